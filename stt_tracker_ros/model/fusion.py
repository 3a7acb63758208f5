"""Inference-only rewrite: fold every BatchNorm into the convolution before it.

A frozen or eval-mode BatchNorm is an affine map per channel, so conv -> BN equals one conv with
scaled weights and a bias: one kernel instead of two (or three with the bias add). The folded
model computes the same function (to float rounding) but its state dict no longer matches the
official layout, so fold only models that are done loading and will not train.
"""
import torch
from torch import nn

from stt_tracker_ros.model.backbone import Bottleneck, FrozenBatchNorm2d, ResNetBody


def _scale_and_shift(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(norm, FrozenBatchNorm2d):
        return norm.scale_and_shift()
    scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
    return scale, norm.bias - norm.running_mean * scale


@torch.no_grad()
def _folded(conv: nn.Conv2d, norm: nn.Module) -> nn.Conv2d:
    scale, shift = _scale_and_shift(norm)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
    fused.bias.copy_(bias * scale + shift)
    return fused.to(memory_format=torch.channels_last) \
        if conv.weight.is_contiguous(memory_format=torch.channels_last) else fused


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold each BatchNorm of a STARK network into its convolution, in place; returns `model`.

    Covers the backbone's conv/bn pairs (stem, bottlenecks, downsample) and the corner head's
    conv-BN-ReLU blocks. The model should be in eval mode.
    """
    for module in model.modules():
        if isinstance(module, (ResNetBody, Bottleneck)):
            for index in (1, 2, 3):
                conv = getattr(module, f'conv{index}', None)
                norm = getattr(module, f'bn{index}', None)
                if conv is not None and norm is not None:
                    setattr(module, f'conv{index}', _folded(conv, norm))
                    setattr(module, f'bn{index}', nn.Identity())
        if isinstance(module, nn.Sequential):
            for index in range(len(module) - 1):
                conv, norm = module[index], module[index + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(
                        norm, (FrozenBatchNorm2d, nn.BatchNorm2d)):
                    module[index], module[index + 1] = _folded(conv, norm), nn.Identity()
    return model
