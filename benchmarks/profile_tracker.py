"""Where one tracker step spends its time: host phases, operator count and the profiler's top.

    python benchmarks/profile_tracker.py --backend fast
    python benchmarks/profile_tracker.py --device cuda --backend graph-half
    python benchmarks/profile_tracker.py --device cuda --backend fast-half --targets 16

Prints, for the timed frames:
- the median host time of each phase of `track` (one target only): crop, model call (the
  launches, or the whole computation on the CPU), waiting for the box, map-back and state;
- the operators per frame that do work (no views, no no-ops), split into the crop and the
  model's search branch: each is a kernel launch in eager mode on a GPU, so fewer is faster there
  (a CUDA-graph replay shows none: the graph launches them);
- torch.profiler's table over the timed frames, sorted by device time on CUDA, CPU time
  otherwise, and the setup. Weights are random: speed does not depend on their values.
"""
import argparse
import json
import tempfile
import time
from collections import Counter

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

from bench_tracker import (BACKENDS, add_setting_arguments, build_model, network_and_frame,
                           setup_line, start_targets)
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.tracker import StarkTracker, read_outputs


class OperatorCounter(TorchDispatchMode):
    """Counts the aten operators that run under it, except views and no-ops (an operator that
    returns one of its inputs, such as dropout in eval mode)."""

    def __init__(self):
        super().__init__()
        self.counts: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        no_op = not func._schema.is_mutable and any(result is arg for arg in args)
        if not func.is_view and not no_op:
            self.counts[str(func.overloadpacket)] += 1
        return result


def _synchronise(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def phase_times(tracker: StarkTracker, frame: np.ndarray, frames: int) -> dict[str, float]:
    """Median milliseconds of each phase of `track` over `frames` frames."""
    phases: dict[str, list[float]] = {'crop': [], 'model call': [], 'wait for the box': [],
                                      'map-back and state': []}
    with torch.inference_mode():
        for _ in range(frames):
            start = time.perf_counter()
            search = tracker.prepare_search(frame)
            cropped = time.perf_counter()
            output = tracker.model.search(tracker.templates, search.image, search.mask)
            called = time.perf_counter()
            rows = read_outputs(output)
            read = time.perf_counter()
            tracker.finish(frame, search, rows[0])
            done = time.perf_counter()
            for name, seconds in zip(phases, (cropped - start, called - cropped, read - called,
                                              done - read)):
                phases[name].append(seconds * 1000)
    return {name: float(np.median(values)) for name, values in phases.items()}


def operator_counts(tracker: StarkTracker, frame: np.ndarray) -> tuple[Counter, Counter]:
    """Operators of one frame's crop and of its search branch."""
    with torch.inference_mode():
        with OperatorCounter() as crop:
            search = tracker.prepare_search(frame)
        with OperatorCounter() as model:
            output = tracker.model.search(tracker.templates, search.image, search.mask)
        tracker.finish(frame, search, read_outputs(output)[0])
    return crop.counts, model.counts


def main() -> None:
    """Parse arguments, profile one backend, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_setting_arguments(parser)
    parser.add_argument('--backend', default='fast', choices=BACKENDS)
    parser.add_argument('--rows', type=int, default=15, help="rows of the profiler's table")
    args = parser.parse_args()
    network, frame = network_and_frame(args)
    with tempfile.TemporaryDirectory() as folder:
        model = build_model(args.backend, network, args.device, folder)
        tracker = MultiTargetTracker(model) if args.targets > 1 else StarkTracker(model)
        start_targets(tracker, frame, args.targets)
        for _ in range(args.warmup):
            tracker.track(frame)
        print(f'{network.name} {args.backend} {args.size} x{args.targets} on {args.device}')
        if args.targets == 1:
            for name, median in phase_times(tracker, frame, args.frames).items():
                print(f'  {name:20s} median {median:8.3f} ms')
            crop, search = operator_counts(tracker, frame)
            print(f'  operators per frame: crop {sum(crop.values())}, '
                  f'search branch {sum(search.values())}')
            print('  search branch, most frequent:',
                  ', '.join(f'{name} {count}' for name, count in search.most_common(8)))
        activities = [ProfilerActivity.CPU]
        if args.device.startswith('cuda'):
            activities.append(ProfilerActivity.CUDA)
        _synchronise(args.device)
        with profile(activities=activities) as profiler:
            for _ in range(args.frames):
                tracker.track(frame)
            _synchronise(args.device)
    sort = 'self_cuda_time_total' if args.device.startswith('cuda') else 'self_cpu_time_total'
    print(profiler.key_averages().table(sort_by=sort, row_limit=args.rows))
    print('setup:', json.dumps(setup_line(args.device, args.frames, args.warmup, args.targets)))


if __name__ == '__main__':
    main()
