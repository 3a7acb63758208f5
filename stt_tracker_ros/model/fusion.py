"""Inference-only rewrites that keep STARK's function with fewer kernels.

A frozen or eval-mode BatchNorm is an affine map per channel, so conv -> BN equals one conv with
scaled weights and a bias: one kernel instead of two (or three with the bias add). The corner
head's two towers see the same input and never mix, so they run as one stack of two-group
convolutions. The rewritten model computes the same function (to float rounding) but its state
dict no longer matches the official layout, so rewrite only models that are done loading and
will not train.
"""
import torch
from torch import nn

from stt_tracker_ros.model.backbone import Bottleneck, FrozenBatchNorm2d, ResNetBody
from stt_tracker_ros.model.heads import CornerHead


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


@torch.no_grad()
def _side_by_side(first: nn.Conv2d, second: nn.Conv2d, groups: int) -> nn.Conv2d:
    """One convolution whose output channels are `first`'s then `second`'s; with groups=2 its
    input channels are split the same way (each half feeds its own convolution)."""
    merged = nn.Conv2d(first.in_channels * groups, first.out_channels * 2, first.kernel_size,
                       first.stride, first.padding, first.dilation, groups, bias=True,
                       device=first.weight.device, dtype=first.weight.dtype)
    merged.weight.copy_(torch.cat([first.weight, second.weight]))
    merged.bias.copy_(torch.cat([first.bias, second.bias]))
    return merged


def merge_corner_towers(head: CornerHead) -> CornerHead:
    """Run the top-left and bottom-right towers of a BatchNorm-folded corner head as one stack
    of convolutions (the first shared, the rest in two groups); in place, returns `head`.

    Five convolutions and four ReLUs per frame instead of ten and eight.
    """
    layers: list[nn.Module] = []
    for index in range(1, 6):
        first, second = (getattr(head, f'conv{index}_{corner}') for corner in ('tl', 'br'))
        if index < 5:
            if not all(isinstance(block[1], nn.Identity) for block in (first, second)):
                raise ValueError('fold the BatchNorms (fold_batchnorm) before merging')
            first, second = first[0], second[0]
        layers.append(_side_by_side(first, second, groups=1 if index == 1 else 2))
        if index < 5:
            layers.append(nn.ReLU(inplace=True))
        delattr(head, f'conv{index}_tl')
        delattr(head, f'conv{index}_br')
    head.merged_towers = nn.Sequential(*layers)
    return head
