"""STARK's corner head (two heat maps, soft-argmax) and its 3-layer score MLP."""
import torch
from torch import nn


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class CornerHead(nn.Module):
    """Predicts top-left and bottom-right corners as expectations over 2-D heat maps.

    The coordinate of cell (row, col) is (col * stride, row * stride): no half-cell offset,
    as in the official CORNER head.
    """

    def __init__(self, in_channels: int = 256, channels: int = 256, feat_size: int = 20,
                 stride: int = 16):
        super().__init__()
        self.feat_size = feat_size
        self.image_size = feat_size * stride
        widths = (in_channels, channels, channels // 2, channels // 4, channels // 8)
        for corner in ('tl', 'br'):
            for index in range(4):
                setattr(self, f'conv{index + 1}_{corner}',
                        _conv_bn_relu(widths[index], widths[index + 1]))
            setattr(self, f'conv5_{corner}', nn.Conv2d(widths[4], 1, 1))
        cells = torch.arange(feat_size, dtype=torch.float32) * stride
        self.register_buffer('coord_x', cells.repeat(feat_size), persistent=False)
        self.register_buffer('coord_y', cells.repeat_interleave(feat_size), persistent=False)

    def _heat_map(self, x: torch.Tensor, corner: str) -> torch.Tensor:
        for index in range(1, 6):
            x = getattr(self, f'conv{index}_{corner}')(x)
        return x.flatten(1)  # [N, feat_size**2]

    def _soft_argmax(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # float32 even under half precision: an expectation over 400 cells of coordinates up
        # to 304 px would lose about 0.1 px in float16.
        prob = scores.float().softmax(dim=1)
        return (prob * self.coord_x).sum(1), (prob * self.coord_y).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, S, S] fused features -> [N, 4] float32 (x1, y1, x2, y2), crop-normalised."""
        x1, y1 = self._soft_argmax(self._heat_map(x, 'tl'))
        x2, y2 = self._soft_argmax(self._heat_map(x, 'br'))
        return torch.stack((x1, y1, x2, y2), dim=1) / self.image_size


class ScoreHead(nn.Module):
    """MLP dim -> dim -> dim -> 1 with ReLU between layers; outputs the target-present logit."""

    def __init__(self, dim: int = 256, num_layers: int = 3):
        super().__init__()
        widths = [dim] * num_layers + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x
