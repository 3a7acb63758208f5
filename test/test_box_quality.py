"""benchmarks/box_quality.py: the IoU of boxes found around the previous frame's true box."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from fixed_box_model import FixedBoxModel

from stt_tracker_ros.data.sequence import make_sequence
from stt_tracker_ros.evaluation.metrics import iou_xywh
from stt_tracker_ros.tracking.tracker import StarkTracker

SCRIPT = Path(__file__).resolve().parents[1] / 'benchmarks' / 'box_quality.py'


def load_script():
    spec = importlib.util.spec_from_file_location('box_quality', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_box_is_scored_against_its_frame_after_a_search_around_the_last_true_box():
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 5
    truth = np.array([[30.0 + 6 * i, 30.0, 30.0, 30.0] for i in range(5)])
    truth[3] = 0   # the target is absent in frame 3: frames 3 and 4 are not scored
    sequence = make_sequence('moving', frames, truth)
    ious = load_script().one_step_ious(StarkTracker(FixedBoxModel()), sequence)
    # The network returns the anchor, last frame's box: the IoU is that of one 6 px step.
    step = iou_xywh(truth[:1], truth[1:2])[0]
    assert ious == pytest.approx([step, step])
