"""Load official and own STARK checkpoints without executing pickled code; convert to safetensors.

Accepted files: the official `.pth.tar` (a dict whose `net` entry is the state dict, beside other
pickled training objects), a plain state dict saved with torch.save, and safetensors files
written by `save_safetensors` (the variant is stored in their metadata).
"""
import json
import logging
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from stt_tracker_ros.config import ModelConfig, model_config
from stt_tracker_ros.model.stark import Stark, build_stark

log = logging.getLogger(__name__)
_SHOWN_KEYS = 8  # keys listed per kind of mismatch in an error message


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class _InertObject(dict):
    """Stands in for any pickled object whose class we refuse to import.

    It accepts whatever the pickle stream hands it and keeps nothing, so no code from the
    checkpoint's classes runs (the official files pickle their training settings and network
    constructor beside the weights).
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state) -> None:
        pass


def _torch_load(path: Path) -> object:
    """torch.load in weights-only mode, with unknown globals replaced by inert objects."""
    try:
        foreign = (torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
                   if zipfile.is_zipfile(path) else [])
        with torch.serialization.safe_globals([(_InertObject, name) for name in foreign]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for damaged or foreign files
        lines = [line for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if 'GLOBAL' in line), lines[-1] if lines else '')
        raise CheckpointError(f'{path}: not a readable checkpoint (truncated, damaged, unsafe or '
                              f'not a torch/safetensors file): {reason}') from error


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read the state dict and metadata of a checkpoint file.

    Returns:
        (state dict, metadata); metadata holds 'variant' and 'model_config' (JSON) when the
        file recorded them.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: checkpoint file not found')
    if path.suffix == '.safetensors':
        try:
            with open(path, 'rb') as stream:
                header_size = int.from_bytes(stream.read(8), 'little')
                header = json.loads(stream.read(header_size))
            return load_file(path), dict(header.get('__metadata__') or {})
        except (SafetensorError, ValueError, OSError) as error:
            raise CheckpointError(f'{path}: not a readable safetensors file: {error}') from error
    content = _torch_load(path)
    metadata = {}
    if isinstance(content, dict) and isinstance(content.get('net'), dict):
        if isinstance(content.get('model_config'), dict):
            metadata['model_config'] = json.dumps(content['model_config'])
        content = content['net']
    if not isinstance(content, dict) or not content or not all(
            isinstance(k, str) and torch.is_tensor(v) for k, v in content.items()):
        raise CheckpointError(f'{path}: holds no state dict (expected a dict of tensors or a '
                              f'dict whose "net" entry is one)')
    return dict(content), metadata


def infer_variant(state: dict[str, torch.Tensor]) -> str:
    """Guess the published variant from the keys: score head -> ST, 23 layer3 blocks -> R101."""
    deep = 'backbone.0.body.layer3.22.conv1.weight' in state
    if 'cls_head.layers.0.weight' not in state:
        return 's50'
    return 'st101' if deep else 'st50'


def state_dict_problems(model: Stark, state: dict[str, torch.Tensor]) -> str:
    """Describe missing, unexpected and mis-shaped keys; empty when `state` fits `model`."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f'{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})'
                 for k, v in expected.items() if k in state and state[k].shape != v.shape]
    parts = []
    for label, keys in (('missing', missing), ('unexpected', unexpected),
                        ('mis-shaped', misshaped)):
        if keys:
            more = f' ... and {len(keys) - _SHOWN_KEYS} more' if len(keys) > _SHOWN_KEYS else ''
            parts.append(f'{len(keys)} {label} keys: {", ".join(keys[:_SHOWN_KEYS])}{more}')
    return '; '.join(parts)


def _config_for(state: dict[str, torch.Tensor], metadata: dict[str, str],
                variant: str | None) -> ModelConfig:
    """The caller's variant first, then the file's recorded config, then the keys' evidence."""
    if variant:
        return model_config(variant)
    if 'model_config' in metadata:
        values = json.loads(metadata['model_config'])
        return ModelConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in values.items()})
    return model_config(metadata.get('variant') or infer_variant(state))


def load_stark(path: str | Path, variant: str | None = None) -> Stark:
    """Build the network a checkpoint describes and load its weights strictly (CPU, float32).

    Args:
        path: checkpoint file (official .pth.tar, plain state dict, or our safetensors).
        variant: 's50', 'st50' or 'st101'; taken from the file's metadata or inferred from
            its keys when None. A given variant that does not fit the file is an error.

    Raises:
        CheckpointError: file missing, unreadable, not a checkpoint, or not of the variant.
    """
    state, metadata = read_checkpoint(path)
    try:
        config = _config_for(state, metadata, variant)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f'{path}: {error}') from error
    model = build_stark(config)
    problems = state_dict_problems(model, state)
    if problems:
        raise CheckpointError(f'{path}: does not fit STARK-{config.name.upper()}: {problems}')
    model.load_state_dict(state, strict=True)
    log.info('loaded STARK-%s from %s', config.name.upper(), path)
    return model.eval()


def save_safetensors(model: Stark, path: str | Path, half: bool = False) -> None:
    """Write the model's weights with its variant and configuration in the metadata.

    `half` stores floating-point tensors as float16 (half the file; `load_stark` reads them
    back into a float32 model).
    """
    config = model.config
    metadata = {'variant': config.name, 'model_config': json.dumps(config.__dict__),
                'format': 'stt_tracker_ros/stark'}
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)


def convert_to_safetensors(source: str | Path, target: str | Path,
                           variant: str | None = None, half: bool = False) -> Stark:
    """Load `source` strictly and write it as safetensors (float16 with `half`); returns the
    loaded model."""
    model = load_stark(source, variant)
    save_safetensors(model, target, half)
    return model
