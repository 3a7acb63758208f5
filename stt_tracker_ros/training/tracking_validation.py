"""Validation by tracking: the network follows the held-out videos as the node would.

Crop-level validation IoU scores the network on jittered crops, most of them with the target far
from the centre; a tracker searches around its last box, and what it does with a wrong box
decides the next frame. Twice a network with the better crop IoU tracked worse
(docs/results/2026-12-07-match, docs/results/2026-12-08-correlation), so a run can choose its
best checkpoint by the success AUC of tracking its validation videos instead (`val_tracking`).
"""
import copy

import numpy as np
import torch
from torch import nn

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.evaluation.metrics import mean_scores, score_sequence
from stt_tracker_ros.evaluation.runner import run_sequence
from stt_tracker_ros.tracking.tracker import StarkTracker

NEVER_LOST = 2**31 - 1   # lost_patience beyond any video


def trackable(sequences: list[Sequence]) -> list[Sequence]:
    """The videos among `sequences`: at least two frames, the target visible in the first
    (single images of detection sets have nothing to follow)."""
    return [s for s in sequences if len(s) > 1 and s.visible[0]]


@torch.no_grad()
def tracking_auc(model: nn.Module, sequences: list[Sequence], confidence: bool = True) -> float:
    """Mean success AUC of a StarkTracker with a float32 copy of `model` over `sequences`, each
    sequence weighing the same; NaN when none can be scored.

    With `confidence` the tracker has its default settings; without, the target is never LOST
    (stage 1, whose score head is still untrained). The training model is left as it was
    (mode, weights, dtype).
    """
    settings = TrackerConfig() if confidence else TrackerConfig(lost_patience=NEVER_LOST)
    tracker = StarkTracker(copy.deepcopy(model).float().eval(), settings)
    scores = [score_sequence(run_sequence(tracker, s)[0], s.boxes, s.visible)
              for s in sequences]
    scores = [s for s in scores if s is not None]
    return mean_scores(scores).auc if scores else float(np.nan)
