"""RepVGG blocks and the RepVGG body STARK-Lightning uses, in training-time and fused form.

A training-time block sums three branches, each ending in a BatchNorm: a 3x3 convolution, a 1x1
convolution and (when the shape allows) the identity. All three are linear, so after training
they collapse into one 3x3 convolution with a bias (Ding et al., "RepVGG", CVPR 2021). Official
checkpoints hold the three branches (`rbr_dense`, `rbr_1x1`, `rbr_identity`); `fuse_repvgg`
rewrites a loaded model into the single convolution (`rbr_reparam`) for inference and export.
"""
import torch
import torch.nn.functional as F
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d

Norm = type[nn.BatchNorm2d] | type[FrozenBatchNorm2d]


def _conv_norm(in_channels: int, out_channels: int, kernel_size: int, stride: int,
               norm: Norm) -> nn.Sequential:
    """Convolution without bias, then a BatchNorm (keys `conv.*`, `bn.*`)."""
    branch = nn.Sequential()
    branch.add_module('conv', nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                        padding=kernel_size // 2, bias=False))
    branch.add_module('bn', norm(out_channels))
    return branch


def _scale_and_shift(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) of an eval-mode or frozen BatchNorm."""
    if isinstance(norm, FrozenBatchNorm2d):
        return norm.scale_and_shift()
    scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
    return scale, norm.bias - norm.running_mean * scale


class RepVGGBlock(nn.Module):
    """3x3 conv-BN + 1x1 conv-BN (+ identity BN when in == out and stride 1), summed, then ReLU.

    Args:
        in_channels, out_channels: channels of the input and the output.
        stride: 1 or 2 (both convolutions).
        norm: nn.BatchNorm2d (trainable, with `num_batches_tracked`) or FrozenBatchNorm2d (the
            official backbone's, four buffers).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 norm: Norm = nn.BatchNorm2d):
        super().__init__()
        # Registration order equals the official state dict's.
        self.rbr_identity = (norm(in_channels) if in_channels == out_channels and stride == 1
                             else None)
        self.rbr_dense = _conv_norm(in_channels, out_channels, 3, stride, norm)
        self.rbr_1x1 = _conv_norm(in_channels, out_channels, 1, stride, norm)
        self.rbr_reparam: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, C_out, H / stride, W / stride]."""
        if self.rbr_reparam is not None:
            return torch.relu(self.rbr_reparam(x))
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return torch.relu(out)

    @torch.no_grad()
    def equivalent_conv(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 kernel [C_out, C_in, 3, 3] and bias [C_out] equal to the three branches."""
        dense, one = self.rbr_dense, self.rbr_1x1
        scale, shift = _scale_and_shift(dense.bn)
        kernel = dense.conv.weight * scale.view(-1, 1, 1, 1)
        bias = shift
        scale, shift = _scale_and_shift(one.bn)
        kernel = kernel + F.pad(one.conv.weight * scale.view(-1, 1, 1, 1), [1, 1, 1, 1])
        bias = bias + shift
        if self.rbr_identity is not None:
            scale, shift = _scale_and_shift(self.rbr_identity)
            channels = torch.arange(kernel.shape[0], device=kernel.device)
            kernel[channels, channels, 1, 1] += scale   # identity = centre tap of channel c on c
            bias = bias + shift
        return kernel, bias

    @torch.no_grad()
    def fuse(self) -> None:
        """Replace the branches by one 3x3 convolution (`rbr_reparam`); a no-op when fused."""
        if self.rbr_reparam is not None:
            return
        kernel, bias = self.equivalent_conv()
        conv = self.rbr_dense.conv
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, bias=True,
                          device=kernel.device, dtype=kernel.dtype)
        fused.weight.copy_(kernel)
        fused.bias.copy_(bias)
        del self.rbr_dense, self.rbr_1x1
        self.rbr_identity = None
        self.rbr_reparam = fused


class RepVGGBody(nn.Module):
    """RepVGG stem block (`stage0`, stride 2) and three stages whose first block has stride 2:
    output stride 16 (RepVGG-A0 without stage 4 and the classifier).

    Args:
        blocks: blocks in stage1..stage3 ((2, 4, 4) for STARK-Lightning: A0 cut after 4 blocks
            of stage 3; A0 itself has (2, 4, 14)).
        width: channels of stage0 and stage1; stage2 has twice, stage3 four times as many
            (48: RepVGG-A0, 48 / 96 / 192).
    """

    def __init__(self, blocks: tuple[int, int, int] = (2, 4, 4), width: int = 48):
        super().__init__()
        self.stage0 = RepVGGBlock(3, width, 2, FrozenBatchNorm2d)
        in_channels = width
        for index, (count, channels) in enumerate(zip(blocks, (width, 2 * width, 4 * width))):
            stage = [RepVGGBlock(in_channels if k == 0 else channels, channels,
                                 2 if k == 0 else 1, FrozenBatchNorm2d) for k in range(count)]
            setattr(self, f'stage{index + 1}', nn.Sequential(*stage))
            in_channels = channels
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] normalised RGB -> [B, out_channels, H / 16, W / 16]."""
        return self.stage3(self.stage2(self.stage1(self.stage0(x))))


def fuse_repvgg(model: nn.Module) -> nn.Module:
    """Fuse every RepVGG block of `model` in place (see RepVGGBlock.fuse); returns `model`.

    Same function to float rounding; the state dict then has `rbr_reparam` keys instead of the
    official training-time ones. Models without RepVGG blocks are returned unchanged.
    """
    for module in list(model.modules()):
        if isinstance(module, RepVGGBlock):
            module.fuse()
    return model


def has_fused_keys(state: dict[str, torch.Tensor]) -> bool:
    """True when a state dict holds fused RepVGG blocks (`rbr_reparam`)."""
    return any('.rbr_reparam.' in key for key in state)
