"""Training the backbone's normalisation from scratch, while checkpoints keep the frozen layout.

With ImageNet weights the official recipe keeps every backbone BatchNorm frozen. Without them
(e.g. on a machine with no network) frozen identity statistics leave a deep random ResNet
unnormalised, so stage 1 can swap them for ordinary BatchNorm layers. Their parameters and
running statistics are saved under the same four names FrozenBatchNorm2d uses, so the tracker and
the official code load the checkpoints unchanged.
"""
import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d


def thaw_backbone_norms(model: nn.Module) -> int:
    """Replace each FrozenBatchNorm2d under `model.backbone` with a trainable BatchNorm2d.

    The new layers start from the frozen buffers. Returns how many were replaced.
    """
    replaced = 0
    for parent in model.backbone.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, FrozenBatchNorm2d):
                norm = nn.BatchNorm2d(child.weight.numel(), eps=child.eps).to(child.weight.device)
                with torch.no_grad():
                    norm.weight.copy_(child.weight)
                    norm.bias.copy_(child.bias)
                    norm.running_mean.copy_(child.running_mean)
                    norm.running_var.copy_(child.running_var)
                setattr(parent, name, norm)
                replaced += 1
    return replaced


def frozen_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the backbone's `num_batches_tracked` entries (absent from the official layout)."""
    return {k: v for k, v in state.items()
            if not (k.startswith('backbone.') and k.endswith('num_batches_tracked'))}


def thawed_layout(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add the `num_batches_tracked` entries a thawed model expects to a frozen-layout state."""
    expected = model.state_dict()
    extra = {k: torch.zeros_like(v) for k, v in expected.items()
             if k.endswith('num_batches_tracked') and k not in state}
    return {**state, **extra}
