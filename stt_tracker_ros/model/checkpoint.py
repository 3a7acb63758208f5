"""Load official and own STARK checkpoints without executing pickled code; convert to safetensors.

Accepted files: the official `.pth.tar` (a dict whose `net` entry is the state dict, beside other
pickled training objects), a plain state dict saved with torch.save, and safetensors files
written by `save_safetensors` (the variant is stored in their metadata).
"""
import json
import logging
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from stt_tracker_ros.config import (ModelConfig, model_config, model_config_from_dict,
                                    network_config)
from stt_tracker_ros.model.pickle_globals import (PickleFormatError, is_training_object,
                                                  pickled_globals, refused_globals)
from stt_tracker_ros.model.repvgg import fuse_repvgg, has_fused_keys
from stt_tracker_ros.model.stark import Stark, build_stark
from stt_tracker_ros.torch_version import torch_version_problem

log = logging.getLogger(__name__)
_SHOWN_KEYS = 8  # keys listed per kind of mismatch in an error message


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class _InertObject(dict):
    """Stands in for the official trainer's pickled objects (`lib.train...`), never imported.

    It accepts whatever the pickle stream hands it and keeps nothing, so no code from the
    checkpoint's classes runs (the official files pickle their training settings and
    statistics beside the weights).
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state) -> None:
        pass


def _short_reason(error: BaseException) -> str:
    """The first sentence of what torch says about a bad file, without its general advice."""
    if isinstance(error, EOFError):
        return 'the file ends early'
    text = str(error).split('WeightsUnpickler error:')[-1]
    first = next((line.strip() for line in text.splitlines() if line.strip()), '')
    return first.split('. ')[0].rstrip('.') or type(error).__name__


def _torch_load(path: Path) -> object:
    """torch.load in weights-only mode, after refusing every global a STARK file does not need.

    Both torch formats (zip and legacy) are checked the same way (stt_tracker_ros.model.
    pickle_globals); the official trainer's objects become inert placeholders.
    """
    if torch_version_problem(torch.__version__):
        raise CheckpointError(
            f'{path}: reading .pth/.pth.tar checkpoints needs torch 2.6 or later, this is torch '
            f'{torch.__version__}: pip install "torch>=2.6" (README, "On a ROS 2 system")')
    try:
        names = pickled_globals(path)
    except PickleFormatError as error:
        raise CheckpointError(f'{path}: not a torch checkpoint: {error}') from error
    except OSError as error:
        raise CheckpointError(f'{path}: cannot be read: {error.strerror or error}') from error
    refused = refused_globals(names)
    if refused:
        raise CheckpointError(
            f'{path}: refused: its pickle refers to {", ".join(refused)}, which no STARK '
            'checkpoint needs and which could run code when loaded (allowed: tensors, '
            'collections.OrderedDict, torch.device and the official trainer\'s lib.train '
            'objects)')
    placeholders = [(_InertObject, name) for name in dict.fromkeys(names)
                    if is_training_object(name)]
    try:
        with torch.serialization.safe_globals(placeholders):
            return torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(f'{path}: unreadable torch file (damaged, cut short or not written '
                              f'by torch.save): {_short_reason(error)}') from error


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
            with safe_open(path, framework='pt') as opened:
                metadata = dict(opened.metadata() or {})
            return load_file(path), metadata
        except SafetensorError as error:
            reason = (str(error).replace('Error while deserializing header: ', 'bad header: ')
                      or 'unreadable')
            raise CheckpointError(f'{path}: not a valid safetensors file (damaged, cut short or '
                                  f'another kind of file): {reason}') from error
        except OSError as error:
            raise CheckpointError(f'{path}: cannot be read: {error.strerror or error}') from error
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
    """Guess the published variant from the keys: learned position embedding -> Lightning,
    score head -> ST, 23 layer3 blocks -> R101."""
    if 'pos_emb_x.row_embed.weight' in state:
        return 'lightning'
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
    """The caller's variant (or model YAML) first, then the file's recorded config, then the
    keys' evidence."""
    if variant:
        return network_config(variant)
    if 'model_config' in metadata:
        return model_config_from_dict(json.loads(metadata['model_config']))
    return model_config(metadata.get('variant') or infer_variant(state))


def load_stark(path: str | Path, variant: str | None = None) -> Stark:
    """Build the network a checkpoint describes and load its weights strictly (CPU, float32).

    Args:
        path: checkpoint file (official .pth.tar, plain state dict, or our safetensors).
        variant: 's50', 'st50', 'st101' or 'lightning', or a model YAML (`network_config`);
            taken from the file's metadata or inferred from its keys when None. A given
            variant that does not fit the file is an error. Lightning files may hold the
            training-time RepVGG branches (official) or the fused form (`convert --fuse`); the
            model takes the file's form.

    Raises:
        CheckpointError: file missing, unreadable, not a checkpoint, or not of the variant.
    """
    state, metadata = read_checkpoint(path)
    try:
        config = _config_for(state, metadata, variant)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f'{path}: {error}') from error
    model = build_stark(config)
    if has_fused_keys(state):
        fuse_repvgg(model)
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
                           variant: str | None = None, half: bool = False,
                           fuse: bool = False) -> Stark:
    """Load `source` strictly and write it as safetensors (float16 with `half`; with `fuse`,
    STARK-Lightning's RepVGG blocks fused, the inference form); returns the written model.

    Raises:
        CheckpointError: as `load_stark`.
        ValueError: `fuse` for a model without RepVGG blocks.
    """
    model = load_stark(source, variant)
    if fuse:
        if model.config.architecture != 'lightning':
            raise ValueError(f'--fuse applies to STARK-Lightning only, not to '
                             f'STARK-{model.config.name.upper()}')
        fuse_repvgg(model)
    save_safetensors(model, target, half)
    return model
