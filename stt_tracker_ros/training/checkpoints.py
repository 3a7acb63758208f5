"""Training checkpoints in the official layout, resuming, pruning and initial weights.

A checkpoint `<output_dir>/stage<k>/ckpt_ep<NNNN>.pth.tar` is a dict with `net` (the state dict,
as the official files and `load_stark` expect), `epoch`, `optimizer`, `scaler`,
`model_config` and `train_config` (plain dicts), and `net_type`. It holds only tensors and plain
python values, so torch.load(weights_only=True) reads it.
"""
import dataclasses
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.checkpoint import CheckpointError, read_checkpoint, state_dict_problems
from stt_tracker_ros.model.efficientnet_lite import EfficientNetLiteBody, load_imagenet_weights
from stt_tracker_ros.training.backbone_norm import frozen_layout

log = logging.getLogger(__name__)

_NAME = re.compile(r'ckpt_ep(\d{4,})\.pth\.tar')


def stage_dir(output_dir: str | Path, stage: int) -> Path:
    """The folder holding the checkpoints of one stage."""
    return Path(output_dir) / f'stage{stage}'


def checkpoint_path(folder: Path, epoch: int) -> Path:
    """The file name of epoch `epoch`'s checkpoint."""
    return folder / f'ckpt_ep{epoch:04d}.pth.tar'


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every checkpoint in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = ((_NAME.fullmatch(p.name), p) for p in folder.iterdir())
    return sorted((int(m.group(1)), p) for m, p in found if m)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint in `folder`, or None."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_checkpoint(path: Path, model: nn.Module, epoch: int, state: dict[str, Any],
                    model_config: ModelConfig, train_config: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a crash mid-write leaves the previous newest intact).

    Args:
        path: target file.
        model: the bare network (not a DDP wrapper).
        epoch: the epoch just finished (1-based).
        state: optimizer / scaler state dicts, stored under their keys.
        model_config: the network's configuration, stored as a plain dict.
        train_config: the training configuration as a plain dict.
    """
    content = {
        'net': {k: v.detach().cpu() for k, v in frozen_layout(model.state_dict()).items()},
        'net_type': 'STARKST' if model_config.score_head else 'STARKS',
        'epoch': epoch,
        **state,
        'model_config': dataclasses.asdict(model_config),
        'train_config': train_config,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + '.partial')
    torch.save(content, partial)
    os.replace(partial, path)
    log.info('saved %s', path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a training checkpoint (weights only: no pickled code runs)."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:   # torch raises many types for damaged files
        raise CheckpointError(f'{path}: not a readable training checkpoint: {error}') from error


def prune_checkpoints(folder: Path, keep_last: int, keep_every: int) -> None:
    """Delete checkpoints except the newest `keep_last` and every `keep_every`-th epoch."""
    found = list_checkpoints(folder)
    for epoch, path in found[:-keep_last]:
        if epoch % keep_every:
            path.unlink()


def best_checkpoint(folder: Path) -> Path | None:
    """The stage's best checkpoint so far (`best.pth.tar`, see `keep_if_best`), or None."""
    path = folder / 'best.pth.tar'
    return path if path.is_file() else None


def keep_if_best(folder: Path, checkpoint: Path, epoch: int, metric: str, value: float) -> bool:
    """Copy `checkpoint` to `best.pth.tar` when `value` of `metric` (higher is better) beats the
    best recorded in `best.json`; returns whether it did. Written atomically, like checkpoints."""
    record = folder / 'best.json'
    best = json.loads(record.read_text()) if record.is_file() else None
    if best is not None and best['metric'] == metric and best['value'] >= value:
        return False
    temporary = folder / 'best.pth.tar.partial'
    shutil.copyfile(checkpoint, temporary)
    os.replace(temporary, folder / 'best.pth.tar')
    temporary = folder / 'best.json.partial'
    temporary.write_text(json.dumps({'epoch': epoch, 'metric': metric, 'value': value}))
    os.replace(temporary, record)
    return True


def widened(saved: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor | None:
    """`saved` (a weight [out, in, ...]) grown to `wanted`'s shape by zero input channels after
    its own, or None where the shapes differ otherwise. A network given extra inputs then starts
    out computing exactly what the saved one computed."""
    if (saved.ndim < 2 or saved.ndim != wanted.ndim or saved.shape[1] >= wanted.shape[1]
            or saved.shape[:1] + saved.shape[2:] != wanted.shape[:1] + wanted.shape[2:]):
        return None
    grown = torch.zeros(wanted.shape, dtype=saved.dtype)
    grown[:, :saved.shape[1]] = saved
    return grown


def load_initial_weights(model: nn.Module, path: str | Path, allow_missing: str = '',
                         widen: str = '') -> None:
    """Load a STARK checkpoint's weights into `model` (to fine-tune or to start stage 2).

    Args:
        model: the network to fill.
        path: any file `read_checkpoint` accepts (official .pth.tar, ours, safetensors).
        allow_missing: key prefix that may be absent or of another shape, and then keeps the
            network's initial values (stage 2 from a STARK-S style file, or onto a score head of
            another input width: 'cls_head.'); the official code loads stage-1 weights
            non-strictly for this.
        widen: key prefix of weights that may have fewer input channels in the file than in
            the network (a corner head given the target correlation, ModelConfig.
            box_correlation): the file's channels come first, the new ones start at zero.

    Raises:
        CheckpointError: unreadable, or the weights do not fit the network.
    """
    state, _ = read_checkpoint(path)
    expected = model.state_dict()
    for key in expected:
        if widen and key.startswith(widen) and key in state:
            grown = widened(state[key], expected[key])
            if grown is not None:
                state[key] = grown
        if (allow_missing and key.startswith(allow_missing)
                and (key not in state or state[key].shape != expected[key].shape)):
            state[key] = expected[key]
    problems = state_dict_problems(model, state)
    if problems:
        raise CheckpointError(f'{path}: does not fit the configured network: {problems}')
    model.load_state_dict(state)
    log.info('initial weights from %s', path)


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Fill the body from ImageNet weights: a torchvision ResNet state dict (layer4, fc and the
    BN `num_batches_tracked` counters ignored) or an EfficientNet-Lite0 one (see
    `efficientnet_lite.load_imagenet_weights`); every body key must exist.

    Raises:
        CheckpointError: unreadable, or keys of the body missing or mis-shaped.
    """
    state, _ = read_checkpoint(path)
    body = model.backbone[0].body
    if isinstance(body, EfficientNetLiteBody):
        try:
            load_imagenet_weights(body, state)
        except ValueError as error:
            raise CheckpointError(f'{path}: {error}') from error
        log.info('backbone weights from %s', path)
        return
    wanted = body.state_dict()
    picked = {k: v for k, v in state.items() if k in wanted}
    missing = sorted(set(wanted) - set(picked))
    misshaped = [k for k, v in picked.items() if v.shape != wanted[k].shape]
    if missing or misshaped:
        raise CheckpointError(f'{path}: not a ResNet state dict for this backbone '
                              f'(missing {missing[:5]}, mis-shaped {misshaped[:5]})')
    body.load_state_dict(picked)
    log.info('backbone weights from %s', path)
