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
        # Both corners' convolutions as one two-group stack (fusion.merge_corner_towers).
        self.merged_towers: nn.Sequential | None = None

    def _heat_maps(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, S, S] -> [N, 2, S * S] scores, top-left corner first."""
        if self.merged_towers is not None:
            return self.merged_towers(x).flatten(2)
        maps = []
        for corner in ('tl', 'br'):
            y = x
            for index in range(1, 6):
                y = getattr(self, f'conv{index}_{corner}')(y)
            maps.append(y.flatten(1))
        return torch.stack(maps, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, S, S] fused features -> [N, 4] float32 (x1, y1, x2, y2), crop-normalised.

        Each corner is the expectation of the cell coordinates under the softmax of its map,
        in float32 even under half precision: an expectation over 400 cells of coordinates up
        to 304 px would lose about 0.1 px in float16.
        """
        prob = self._heat_maps(x).float().softmax(dim=-1)
        xs, ys = (prob * self.coord_x).sum(-1), (prob * self.coord_y).sum(-1)   # [N, 2]
        return torch.stack((xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]), dim=1) / self.image_size


class ScoreHead(nn.Module):
    """MLP inputs -> dim -> dim -> 1 with ReLU between layers; outputs the target-present logit.

    `inputs` is `dim` (the decoder output) in STARK-ST; wider where the head also sees the
    appearance match (model/appearance_match.py).
    """

    def __init__(self, dim: int = 256, num_layers: int = 3, inputs: int | None = None):
        super().__init__()
        widths = [inputs or dim] + [dim] * (num_layers - 1) + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., inputs] decoder output (and match) -> [..., 1] target-present logit."""
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x
