"""Per-frame latency of the whole tracker step (crop, model, map-back) for each backend.

Prints one line per configuration with the median and p95 over the timed frames, then the
setup it ran on. The weights are random (speed does not depend on their values).

    python benchmarks/bench_tracker.py --variant st50 --backends eager fast onnx --frames 20
    python benchmarks/bench_tracker.py --model-config config/models/stark_st_compact.yaml
    python benchmarks/bench_tracker.py --device cuda --backends eager graph-half --targets 16
    python benchmarks/bench_tracker.py --networks lightning st50 default csrt --backends fast onnx

With `--targets N` above 1, N targets spread over the frame run in one batched forward pass
(MultiTargetTracker) and the time is per frame, for all of them. `--networks` times several
networks one after the other in the same process: variants by name, `default` (the network of
the model shipped in the package) and `csrt` (OpenCV CSRT, the CPU baseline; backends do not
apply to it). glibc's malloc thresholds are raised first, as `build_tracker` does
(`--system-malloc` leaves them as they are, to measure what that brings).
"""
import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch

from stt_tracker_ros.config import VARIANTS, ModelConfig, load_yaml_overrides, model_config
from stt_tracker_ros.evaluation.opencv_trackers import csrt_tracker
from stt_tracker_ros.export.onnx_export import export_onnx
from stt_tracker_ros.model.checkpoint import load_stark
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.allocator import keep_freed_memory
from stt_tracker_ros.tracking.cuda_graph import GraphedStark
from stt_tracker_ros.tracking.factory import DEFAULT_CHECKPOINT, prepare_for_inference
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.onnx_backend import OnnxStark
from stt_tracker_ros.tracking.tracker import StarkTracker


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as info:
            for line in info:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


BACKENDS = ('eager', 'fast', 'fast-half', 'graph', 'graph-half', 'compiled-graph-half', 'onnx')


def build_model(backend: str, network: ModelConfig, device: str, folder: str):
    """Random-weight model of `network` as `backend` runs it (ONNX files go to `folder`)."""
    model = build_stark(network).eval()
    if backend == 'onnx':
        export_onnx(model, folder)
        providers = (['CUDAExecutionProvider'] if device == 'cuda' else []) + \
            ['CPUExecutionProvider']
        return OnnxStark(folder, providers)
    if backend == 'eager':  # the reference layout: float32, BatchNorm kept, contiguous weights
        return model.to(device)
    model = prepare_for_inference(model, torch.device(device), half=backend.endswith('half'))
    if 'graph' in backend:
        return GraphedStark(model, compiled=backend.startswith('compiled'))
    return model


def target_boxes(width: int, height: int, count: int) -> list[tuple[float, float, float, float]]:
    """`count` boxes of 80x60 px on a grid over the frame (one box: the frame's centre)."""
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    return [((column + 0.5) * width / columns - 40, (row + 0.5) * height / rows - 30, 80, 60)
            for row in range(rows) for column in range(columns)][:count]


def start_targets(tracker: StarkTracker | MultiTargetTracker, frame: np.ndarray,
                  targets: int) -> None:
    """Initialise `targets` targets (`target_boxes`) on `frame`."""
    height, width = frame.shape[:2]
    for box in target_boxes(width, height, targets):
        if isinstance(tracker, MultiTargetTracker):
            tracker.add(frame, box)
        else:
            tracker.initialize(frame, box)


def measure(tracker: StarkTracker | MultiTargetTracker, frame: np.ndarray, frames: int,
            warmup: int, targets: int = 1) -> np.ndarray:
    """Seconds per `track` call (all targets of one frame) after `warmup` untimed calls."""
    start_targets(tracker, frame, targets)
    times = []
    for index in range(warmup + frames):
        start = time.perf_counter()
        tracker.track(frame)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return np.array(times)


def setup_line(device: str, frames: int, warmup: int, targets: int) -> dict:
    """What a measurement ran on: date, CPU, torch (and ONNX Runtime, GPU) versions, settings."""
    setup = {'date': time.strftime('%Y-%m-%d'), 'cpu': cpu_name(), 'cores': os.cpu_count(),
             'torch_threads': torch.get_num_threads(), 'torch': torch.__version__,
             'device': device, 'frames': frames, 'warmup': warmup, 'targets': targets}
    try:
        import onnxruntime
        setup['onnxruntime'] = onnxruntime.__version__
    except ImportError:
        pass
    if device.startswith('cuda'):
        setup['gpu'] = torch.cuda.get_device_name()
    return setup


def add_setting_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both benchmark scripts share: network, device, frame, frames, targets."""
    parser.add_argument('--variant', default='st50', choices=tuple(VARIANTS))
    parser.add_argument('--model-config', default='',
                        help='YAML of ModelConfig overrides applied to --variant '
                        '(e.g. config/models/stark_st_compact.yaml)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--size', default='640x480', help='frame WIDTHxHEIGHT')
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--targets', type=int, default=1,
                        help='targets per frame, searched in one batch')


def network_and_frame(args: argparse.Namespace) -> tuple[ModelConfig, np.ndarray]:
    """The network the arguments name and a random frame of their size."""
    width, height = (int(v) for v in args.size.split('x'))
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    network = model_config(args.variant)
    if args.model_config:
        network = load_yaml_overrides(network, args.model_config)
    return network, frame


def named_network(name: str) -> ModelConfig:
    """A variant by name, or 'default': the network of the model shipped in the package."""
    return load_stark(DEFAULT_CHECKPOINT).config if name == 'default' else model_config(name)


def time_backends(network: ModelConfig, backends: list[str], frame: np.ndarray,
                  args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Median and p95 milliseconds per frame of `network` under each backend, printed as they
    come; a backend that fails is reported and skipped."""
    size = f'{frame.shape[1]}x{frame.shape[0]}'
    results = {}
    for backend in backends:
        try:
            with tempfile.TemporaryDirectory() as folder:
                model = build_model(backend, network, args.device, folder)
                tracker = (MultiTargetTracker(model) if args.targets > 1
                           else StarkTracker(model))
                times = measure(tracker, frame, args.frames, args.warmup, args.targets) * 1000
        except (RuntimeError, ImportError, ValueError) as error:   # report, time the others
            print(f'{network.name} {backend:10s} failed: {error}', flush=True)
            continue
        results[backend] = report(network.name, backend, size, args.targets, times)
    return results


def report(name: str, backend: str, size: str, targets: int,
           times: np.ndarray) -> tuple[float, float]:
    """Print one result line; returns (median, p95) in milliseconds."""
    median, p95 = float(np.median(times)), float(np.percentile(times, 95))
    print(f'{name} {backend:10s} {size:>9s} x{targets:<2d}  median {median:8.1f} ms  '
          f'p95 {p95:8.1f} ms', flush=True)
    return median, p95


def main() -> None:
    """Parse arguments, time each backend (of each network), print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_setting_arguments(parser)
    parser.add_argument('--backends', nargs='+', default=['eager', 'onnx'],
                        choices=BACKENDS,
                        help='eager: the model as loaded (baseline); fast: what build_tracker '
                        'runs (BatchNorm folded, channels-last); fast-half: the same in '
                        'float16 (CUDA) / bfloat16 (CPU); graph, graph-half: fast with the search '
                        'branch replayed as a CUDA graph; compiled-graph-half: graph-half of '
                        'the torch.compile search branch; onnx: ONNX Runtime')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--networks', nargs='+', choices=(*VARIANTS, 'default', 'csrt'),
                        help='time these networks in turn instead of --variant/--model-config '
                        '(default: the shipped model; csrt: OpenCV CSRT, one target)')
    parser.add_argument('--system-malloc', action='store_true',
                        help="leave glibc's malloc thresholds as they are instead of raising "
                        'them as build_tracker does (tracking/allocator.py)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = not args.system_malloc and keep_freed_memory()
    network, frame = network_and_frame(args)
    results = {}
    for name in args.networks or [network.name]:
        if name == 'csrt':
            if args.targets == 1:   # OpenCV's tracker follows one target
                times = measure(csrt_tracker(), frame, args.frames, args.warmup) * 1000
                results['csrt'] = report('csrt', 'opencv', args.size, 1, times)
            continue
        if args.networks:
            network = named_network(name)
        for backend, timing in time_backends(network, args.backends, frame, args).items():
            results[f'{network.name} {backend}'] = timing
    for label, (median, _) in results.items():
        name, _, backend = label.partition(' ')
        eager = results.get(f'{name} eager')
        if eager and backend != 'eager':
            print(f'speed-up of {label} over {name} eager float32: {eager[0] / median:.2f}x')
        if 'csrt' in results and name != 'csrt':
            print(f'{label}: {results["csrt"][0] / median:.2f}x the frame rate of CSRT')
    setup = setup_line(args.device, args.frames, args.warmup, args.targets)
    print('setup:', json.dumps({**setup, 'malloc_thresholds_raised': kept}))


if __name__ == '__main__':
    main()
