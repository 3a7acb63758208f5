"""ResNet-50/101 cut after layer3 (stride 16, frozen BatchNorm), written for STARK's key names,
and the `backbone.0.body` holder that any body sits in."""
import torch
from torch import nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed statistics and affine parameters, all stored as buffers.

    Matches the backbone normalisation of the official code: four buffers (no
    `num_batches_tracked`), eps 1e-5, nothing updated in training.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer('weight', torch.ones(channels))
        self.register_buffer('bias', torch.zeros(channels))
        self.register_buffer('running_mean', torch.zeros(channels))
        self.register_buffer('running_var', torch.ones(channels))

    def scale_and_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (scale, shift) so that output = input * scale + shift."""
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        return scale, self.bias - self.running_mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, C, H, W], normalised with the stored statistics."""
        scale, shift = self.scale_and_shift()
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck block (the stride sits on the 3x3 convolution)."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = FrozenBatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = FrozenBatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                FrozenBatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, 4 * planes, H / stride, W / stride]."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetBody(nn.Module):
    """conv1 .. layer3 of a ResNet: [B, 3, H, W] -> [B, 16 * width, H/16, W/16].

    `width` 64 is ResNet-50/101 (1024 output channels); smaller widths make lighter networks.
    """

    def __init__(self, blocks_per_layer: tuple[int, int, int], width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = width
        for index, (planes, blocks, stride) in enumerate(
                zip((width, 2 * width, 4 * width), blocks_per_layer, (1, 2, 2)), start=1):
            layer = [Bottleneck(in_channels, planes, stride)]
            in_channels = planes * Bottleneck.expansion
            layer += [Bottleneck(in_channels, planes) for _ in range(blocks - 1)]
            setattr(self, f'layer{index}', nn.Sequential(*layer))
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] normalised RGB -> [B, out_channels, H/16, W/16]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


class Backbone(nn.Module):
    """Holds the body under `body`, so parameters are named `backbone.0.body.*` officially."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The body's output for `x`."""
        return self.body(x)


def build_backbone(body: nn.Module) -> nn.ModuleList:
    """A one-element ModuleList, mirroring the official Joiner(backbone, position_encoding)."""
    return nn.ModuleList([Backbone(body)])
