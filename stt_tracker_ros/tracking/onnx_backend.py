"""Run exported STARK graphs with ONNX Runtime behind the same encode/search interface."""
import json
from pathlib import Path

import numpy as np
import torch

from stt_tracker_ros.config import model_config_from_dict
from stt_tracker_ros.export.onnx_export import MANIFEST
from stt_tracker_ros.model.checkpoint import CheckpointError
from stt_tracker_ros.model.stark import StarkOutput, Tokens


TENSORRT_CACHE = Path.home() / '.cache' / 'stt_tracker_ros' / 'tensorrt'

Provider = str | tuple[str, dict[str, str]]


def execution_providers(device: torch.device, half: bool = False) -> list[Provider]:
    """ONNX Runtime providers for `device`, best first, among those this build offers.

    On CUDA with a TensorRT-enabled ONNX Runtime (NVIDIA's build for JetPack, or
    onnxruntime-gpu with TensorRT), TensorRT comes first: it builds engines on the first start
    (float16 with `half`) and caches them in TENSORRT_CACHE, so later starts load them.
    """
    import onnxruntime

    available = set(onnxruntime.get_available_providers())
    providers: list[Provider] = []
    if device.type == 'cuda':
        if 'TensorrtExecutionProvider' in available:
            providers.append(('TensorrtExecutionProvider', {
                'trt_fp16_enable': str(half), 'trt_engine_cache_enable': 'True',
                'trt_engine_cache_path': str(TENSORRT_CACHE)}))
        if 'CUDAExecutionProvider' in available:
            providers.append('CUDAExecutionProvider')
    return [*providers, 'CPUExecutionProvider']


def is_onnx_export(path: str | Path) -> bool:
    """True when `path` is a folder written by `export_onnx`."""
    return (Path(path) / MANIFEST).is_file()


def provider_device(provider_options: dict[str, dict[str, str]]) -> torch.device:
    """The device a session runs on, from its `get_provider_options()`: the GPU of its TensorRT
    or CUDA provider (`device_id`, default 0), else the CPU."""
    for provider in ('TensorrtExecutionProvider', 'CUDAExecutionProvider'):
        if provider in provider_options:
            return torch.device('cuda', int(provider_options[provider].get('device_id', 0)))
    return torch.device('cpu')


class OnnxStark:
    """STARK served by two ONNX Runtime sessions (template branch, search branch).

    A `StarkBackend`: its device is the GPU of its TensorRT or CUDA provider, so the tracker
    makes the crops there, else the CPU; its inputs are float32 (TensorRT's float16 engines
    convert inside). The sessions take numpy arrays, so the crops still pass through the host.

    Args:
        folder: output of `export_onnx` (template.onnx, search.onnx, manifest).
        providers: ONNX Runtime execution providers (names, or (name, options) pairs), e.g.
            `execution_providers(device)`; CPU when None.
    """

    def __init__(self, folder: str | Path, providers: list[Provider] | None = None):
        import onnxruntime

        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            self.config = model_config_from_dict(manifest['model_config'])
            providers = providers or ['CPUExecutionProvider']
            self._template = onnxruntime.InferenceSession(str(folder / 'template.onnx'),
                                                          providers=providers)
            self._search = onnxruntime.InferenceSession(str(folder / 'search.onnx'),
                                                        providers=providers)
        except Exception as error:  # missing files, bad JSON, ONNX Runtime load errors
            raise CheckpointError(f'{folder}: not a usable ONNX export: {error}') from error
        self.device = provider_device(self._search.get_provider_options())
        self.dtype = torch.float32

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Template branch; same contract as `Stark.encode` (float32, batch 1)."""
        feat, feat_mask, pos = self._template.run(None, {
            'image': image.float().cpu().numpy(), 'mask': mask.float().cpu().numpy()})
        return Tokens(torch.from_numpy(feat), torch.from_numpy(feat_mask), torch.from_numpy(pos))

    def search(self, templates: list[Tokens], image: torch.Tensor,
               mask: torch.Tensor) -> StarkOutput:
        """Search branch; same contract as `Stark.search`.

        The graphs have a static batch of one, so a batch of targets runs one by one.
        """
        if image.shape[0] > 1:
            outputs = [self.search([_item(t, b) for t in templates], image[b:b + 1],
                                   mask[b:b + 1]) for b in range(image.shape[0])]
            logits = None if outputs[0].logits is None else torch.cat([o.logits for o in outputs])
            return StarkOutput(torch.cat([o.boxes for o in outputs]), logits, torch.empty(0))
        outputs = self._search.run(None, {
            'image': image.float().cpu().numpy(), 'mask': mask.float().cpu().numpy(),
            'template_feat': _joined(templates, 'feat', axis=0),
            'template_mask': _joined(templates, 'mask', axis=1),
            'template_pos': _joined(templates, 'pos', axis=0)})
        logits = torch.from_numpy(outputs[1]) if self.config.score_head else None
        return StarkOutput(torch.from_numpy(outputs[0]), logits, torch.empty(0))


def _joined(templates: list[Tokens], field: str, axis: int) -> np.ndarray:
    """Concatenate one field of the template tokens as float32 numpy (masks become 0/1)."""
    return np.concatenate([getattr(t, field).float().cpu().numpy() for t in templates], axis=axis)


def _item(tokens: Tokens, index: int) -> Tokens:
    """One batch element of sequence-first tokens."""
    return Tokens(tokens.feat[:, index:index + 1], tokens.mask[index:index + 1],
                  tokens.pos[:, index:index + 1])
