"""A network double for tracker-level tests: the same crop-relative box and logit every frame.

With the default box the target is found where the search crop is centred, at the size of the
last box (1/5 of a crop made with STARK's factor 5).
"""
import torch
from torch import nn

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.placement import PlacedModule
from stt_tracker_ros.model.stark import StarkOutput, Tokens


class FixedBoxModel(PlacedModule):
    """Returns `box` (cx, cy, w, h of the crop) with target-present logit `logit`."""

    def __init__(self, box=(0.5, 0.5, 0.2, 0.2), logit: float = 3.0):
        super().__init__()
        self.config = ModelConfig(num_templates=2)
        self.weight = nn.Parameter(torch.ones(1))
        self.box, self.logit = box, logit

    def encode(self, image, mask):
        return Tokens(image.mean().reshape(1, 1, 1), mask.flatten(1)[:, :1], image[:1, :1, 0, :1])

    def search(self, templates, image, mask):
        return StarkOutput(torch.tensor([self.box]), torch.tensor([self.logit]),
                           torch.zeros(1, 8))
