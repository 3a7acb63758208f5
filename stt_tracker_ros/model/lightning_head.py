"""STARK-Lightning's corner head: a RepVGG convolution tower to two heat maps, then soft-argmax.

The official `Corner_Predictor_Lite_Rep_v2` (head type CORNER_LITE_REP_v2). Unlike STARK-S/ST's
corner head, both corners share one tower, and a cell's coordinate is its centre.
"""
import torch
from torch import nn

from stt_tracker_ros.model.repvgg import RepVGGBlock


class RepCornerHead(nn.Module):
    """Two RepVGG blocks and a 3x3 convolution to two maps (top-left, bottom-right corner);
    each corner is the expectation of the cell centres under the softmax of its map.

    Args:
        in_channels: channels of the encoder output (hidden dim).
        channels: width of the RepVGG blocks.
        feat_size: side of the search feature map (20).
        stride: pixels per cell (16); cell (row, col) has centre ((col + 0.5), (row + 0.5)) *
            stride.
    """

    def __init__(self, in_channels: int = 128, channels: int = 128, feat_size: int = 20,
                 stride: int = 16):
        super().__init__()
        self.feat_size = feat_size
        self.image_size = feat_size * stride
        self.conv_tower = nn.Sequential(RepVGGBlock(in_channels, channels),
                                        RepVGGBlock(channels, channels),
                                        nn.Conv2d(channels, 2, 3, padding=1))
        centres = (torch.arange(feat_size, dtype=torch.float32) + 0.5) * stride
        self.register_buffer('coord_x', centres.repeat(feat_size), persistent=False)
        self.register_buffer('coord_y', centres.repeat_interleave(feat_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, S, S] search features -> [N, 4] float32 (x1, y1, x2, y2), crop-normalised.

        The expectation runs in float32 even under half precision (as in CornerHead).
        """
        prob = self.conv_tower(x).flatten(2).float().softmax(dim=-1)    # [N, 2, S * S]
        xs, ys = (prob * self.coord_x).sum(-1), (prob * self.coord_y).sum(-1)   # [N, 2]
        return torch.stack((xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]), dim=1) / self.image_size
