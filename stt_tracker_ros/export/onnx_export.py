"""Export STARK as two static-shape ONNX graphs: the template branch and the search branch.

Masks travel as float32 (1.0 on padding), never as booleans: TensorRT's ONNX parser rejects
boolean gathers. The template tokens of all templates are passed to the search graph already
concatenated ([templates * 64, 1, C]), so the runtime refreshes them only on template updates.
STARK-Lightning's RepVGG blocks are fused first, and its search graph, like STARK-S's, has no
logit output: these models have no score head. This is the official Lightning split
(`backbone_bottleneck_pe.onnx` and `complete.onnx`).
"""
import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from stt_tracker_ros.model.repvgg import fuse_repvgg
from stt_tracker_ros.model.stark import Stark, Tokens

MANIFEST = 'stark_onnx.json'


class TemplateBranch(nn.Module):
    """image [1, 3, T, T], mask [1, T, T] (float) -> feat [N, 1, C], mask [1, N], pos [N, 1, C]."""

    def __init__(self, model: Stark):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor):
        """The template tokens as three tensors (shapes in the class docstring)."""
        tokens = self.model.encode(image, mask)
        return tokens.feat, tokens.mask, tokens.pos


class SearchBranch(nn.Module):
    """Search crop + concatenated template tokens -> boxes [1, 4] (cx, cy, w, h), logit [1];
    boxes only for models without a score head."""

    def __init__(self, model: Stark):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor, template_feat: torch.Tensor,
                template_mask: torch.Tensor, template_pos: torch.Tensor):
        """boxes, and the float32 logit when the model has a score head (see the class)."""
        output = self.model.decode([Tokens(template_feat, template_mask, template_pos)],
                                   self.model.encode(image, mask))
        if output.logits is None:
            return output.boxes
        return output.boxes, output.logits.float()


def export_onnx(model: Stark, out_dir: str | Path, opset: int = 17) -> Path:
    """Write template.onnx, search.onnx and a manifest with the model config to `out_dir`.

    Returns:
        The manifest path; `stt_tracker_ros.tracking.onnx_backend.OnnxStark` loads the folder.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.float().cpu().eval()
    if model.config.architecture == 'lightning':   # fuse a copy: the caller's keeps its keys
        model = fuse_repvgg(copy.deepcopy(model))
    config = model.config
    t, s = config.template_size, config.search_size
    template_tokens = (t // config.stride) ** 2 * config.num_templates
    dim = config.hidden_dim
    template_inputs = (torch.zeros(1, 3, t, t), torch.zeros(1, t, t))
    search_inputs = (torch.zeros(1, 3, s, s), torch.zeros(1, s, s),
                     torch.zeros(template_tokens, 1, dim), torch.zeros(1, template_tokens),
                     torch.zeros(template_tokens, 1, dim))
    with torch.inference_mode(), warnings.catch_warnings():
        # The graphs have static shapes by design, so Python decisions on sizes (Lightning
        # picks its position embedding by the crop's size) are meant to become constants.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        # Wrappers in eval mode: the exporter restores each module's mode afterwards, and a
        # fresh wrapper would switch the model (and its dropout) back to training.
        torch.onnx.export(TemplateBranch(model).eval(), template_inputs,
                          out_dir / 'template.onnx', input_names=['image', 'mask'],
                          output_names=['feat', 'feat_mask', 'pos'], opset_version=opset,
                          dynamo=False)
        torch.onnx.export(SearchBranch(model).eval(), search_inputs, out_dir / 'search.onnx',
                          input_names=['image', 'mask', 'template_feat', 'template_mask',
                                       'template_pos'],
                          output_names=['boxes', 'logit'][:2 if config.score_head else 1],
                          opset_version=opset, dynamo=False)
    manifest = out_dir / MANIFEST
    manifest.write_text(json.dumps({'model_config': config.__dict__, 'opset': opset}, indent=2))
    return manifest
