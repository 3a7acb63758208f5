"""Build a ready-to-use tracker from a checkpoint path, a device name and a precision."""
import logging
from pathlib import Path

import numpy as np
import torch

from stt_tracker_ros.config import TrackerConfig, network_config
from stt_tracker_ros.model.checkpoint import CheckpointError, load_stark
from stt_tracker_ros.model.fusion import fold_batchnorm, merge_corner_towers
from stt_tracker_ros.model.heads import CornerHead
from stt_tracker_ros.model.repvgg import fuse_repvgg
from stt_tracker_ros.model.stark import Stark, build_stark
from stt_tracker_ros.torch_version import check_torch
from stt_tracker_ros.tracking.allocator import keep_freed_memory
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.cuda_graph import GraphedStark
from stt_tracker_ros.tracking.onnx_backend import OnnxStark, execution_providers, is_onnx_export
from stt_tracker_ros.tracking.tracker import StarkTracker

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / 'weights' / 'default.safetensors'


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; an explicit CUDA device must exist."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    resolved = torch.device(device)
    if resolved.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {device!r} requested but CUDA is not available')
    return resolved


def resolve_dtype(device: torch.device, half: bool) -> torch.dtype:
    """Half precision is float16 on CUDA and bfloat16 on the CPU (which lacks fast float16)."""
    if not half:
        return torch.float32
    return torch.float16 if device.type == 'cuda' else torch.bfloat16


def build_tracker(checkpoint: str | None, variant: str | None = None, device: str = 'auto',
                  half: bool = False, config: TrackerConfig | None = None,
                  random_weights: bool = False, cuda_graphs: bool = True) -> StarkTracker:
    """Load a STARK model and wrap it in a tracker.

    Args:
        checkpoint: checkpoint file, or a folder written by `stt-tracker export` (then ONNX
            Runtime runs the model, through TensorRT on CUDA where the build has it, and `half`
            asks TensorRT for float16); None or '' means the default model shipped in the
            package.
        variant: 's50', 'st50', 'st101', 'lightning'; inferred from the checkpoint when
            None. With `random_weights`, also a YAML of ModelConfig overrides
            (`network_config`).
        device: 'auto', 'cpu', 'cuda', 'cuda:1', ...
        half: run in float16 (CUDA) / bfloat16 (CPU).
        config: tracking settings (defaults of TrackerConfig when None).
        random_weights: build `variant` (default 'st50') untrained, for plumbing demos and tests.
        cuda_graphs: on a CUDA device, replay the search branch as a CUDA graph (same
            outputs as eager, test_cuda_graph.py; the CPU ignores it).

    Raises:
        TorchVersionError: torch is older than the package needs (the node's start-up check).
        CheckpointError: the checkpoint (or the default model) is missing or unusable.
        ValueError: unknown variant or unavailable device.
    """
    check_torch()
    keep_freed_memory()   # the step's large buffers are reused instead of faulted in anew
    torch_device = resolve_device(device)
    if random_weights:
        model = build_stark(network_config(variant or 'st50'))
        log.warning('STARK-%s with RANDOM weights: boxes are meaningless',
                    model.config.name.upper())
    else:
        if not checkpoint:
            if not DEFAULT_CHECKPOINT.is_file():
                raise CheckpointError(
                    f'{DEFAULT_CHECKPOINT}: no checkpoint configured and no default model is '
                    'installed; set `checkpoint` to an official STARK file (see README)')
            checkpoint = str(DEFAULT_CHECKPOINT)
            log.warning('no checkpoint configured: using the default model shipped with the '
                        'package, a light STARK-ST trained only briefly (README, Evaluation); '
                        'for accurate tracking set `checkpoint` to official STARK weights')
        if is_onnx_export(checkpoint):
            providers = execution_providers(torch_device, half)
            return StarkTracker(OnnxStark(checkpoint, providers), config)
        model = load_stark(checkpoint, variant)
    model = prepare_for_inference(model, torch_device, half)
    if cuda_graphs and torch_device.type == 'cuda':
        model = GraphedStark(model)
    return StarkTracker(model, config)


def prepare_for_inference(model: Stark, device: torch.device, half: bool = False) -> Stark:
    """Fuse RepVGG blocks (Lightning), fold BatchNorm into the convolutions, merge the corner
    towers (S/ST), use channels-last weights, move and cast.

    Same outputs as the loaded model (to float rounding; see test_fusion.py), fewer kernels.
    """
    model = fold_batchnorm(fuse_repvgg(model.float().eval()))
    if isinstance(model.box_head, CornerHead):
        merge_corner_towers(model.box_head)
    return model.to(device, resolve_dtype(device, half), memory_format=torch.channels_last)


def build_multi_target_tracker(checkpoint: str | None, variant: str | None = None,
                               device: str = 'auto', half: bool = False,
                               config: TrackerConfig | None = None,
                               random_weights: bool = False,
                               cuda_graphs: bool = True) -> MultiTargetTracker:
    """The model `build_tracker` loads (same arguments and errors), for several targets.

    PyTorch models run all targets in one batch; an ONNX export (batch-1 graphs) runs them in turn.
    """
    single = build_tracker(checkpoint, variant, device, half, config, random_weights,
                           cuda_graphs)
    return MultiTargetTracker(single.model, single.config)


def warm_up(tracker: MultiTargetTracker) -> None:
    """Run the tracker's model once: one init and one track on a blank frame.

    The first real frame then does not pay for lazy allocations and kernel selection (seconds
    on some devices). A throwaway tracker does it, so `tracker`'s target ids still start at '1'.
    """
    blank = np.zeros((240, 320, 3), np.uint8)
    throwaway = MultiTargetTracker(tracker.model, tracker.config)
    throwaway.add(blank, (140.0, 100.0, 40.0, 40.0))
    throwaway.track(blank)
