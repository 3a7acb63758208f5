"""Init boxes at and beyond the limits: each is rejected with a message that says why, or is
accepted and tracked at a bounded cost; a rejected box leaves the track in place.

The hostile boxes are those of issue 13 (BoundingBox2D centre x, centre y, size x, size y on a
320x240 frame), which used to escape the box check and crash the crop. A small random STARK-ST
runs the real crops and encoders.
"""
import tracemalloc

import numpy as np
import pytest
import torch
from hostile_boxes import ISSUE_BOXES

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.boxes import MAX_BOX_SIDE, validate_init_box
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.result import InvalidBoxError, TrackState

WIDTH, HEIGHT = 320, 240
HOSTILE = [   # (centre x, centre y, size x, size y), what the rejection must say
    *ISSUE_BOXES,
    ((160.0, 120.0, 1e-300, 20.0), 'too small'),
    ((320.4, 120.0, 1.0, 30.0), 'inside the 320x240 image'),   # 0.1 px of it visible
    ((400.0, 120.0, 20.0, 20.0), 'outside'),
]


def xywh(centre_size) -> tuple[float, float, float, float]:
    """BoundingBox2D-style (centre, size) to the tracker's (x, y, w, h)."""
    cx, cy, w, h = centre_size
    return cx - 0.5 * w, cy - 0.5 * h, w, h


@pytest.fixture(scope='module')
def model():
    config = ModelConfig(name='small', backbone_layers=(1, 1, 1), backbone_width=8,
                         hidden_dim=32, num_heads=2, encoder_layers=1, decoder_layers=1,
                         ffn_dim=64, head_channels=32)
    torch.manual_seed(0)
    return build_stark(config).eval()


@pytest.fixture
def frame():
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.mark.parametrize('box, reason', HOSTILE)
def test_hostile_box_is_rejected_with_its_reason(box, reason):
    with pytest.raises(InvalidBoxError, match=reason):
        validate_init_box(xywh(box), HEIGHT, WIDTH)


def test_rejected_boxes_keep_the_track_in_place(model, frame):
    tracker = MultiTargetTracker(model)
    first = tracker.add(frame, (140.0, 100.0, 40.0, 40.0))
    for box, reason in HOSTILE:
        with pytest.raises(InvalidBoxError, match=reason):
            tracker.add(frame, xywh(box))
    assert tracker.target_ids == [first]
    result = tracker.track(frame)[first]
    assert result.state == TrackState.TRACKING and result.frame_index == 1


def test_window_meeting_only_the_dropped_last_column_is_rejected(model):
    # On a frame of odd width the 2 px template window of a 1 px box on the last column starts
    # on that column, which the reference's extra right padding removes: no pixel is left.
    frame = np.zeros((40, 321, 3), np.uint8)
    with pytest.raises(InvalidBoxError, match='holds no pixel of the 321x40 frame'):
        MultiTargetTracker(model).add(frame, (320.0, 10.0, 1.0, 1.0))


@pytest.mark.parametrize('box', [
    (319.0, 239.0, 1.0, 1.0),                           # one pixel, in the corner
    (160.0 - MAX_BOX_SIDE / 2, 0.0, MAX_BOX_SIDE, MAX_BOX_SIDE),   # the largest accepted
    (-4840.0, -4880.0, 10000.0, 10000.0),               # the 10000 px box of the issue
])
def test_extreme_accepted_boxes_track_at_a_bounded_cost(model, frame, box):
    tracker = MultiTargetTracker(model)
    tracemalloc.start()
    try:
        target = tracker.add(frame, box)
        result = tracker.track(frame)[target]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2 ** 20, f'{peak / 2 ** 20:.0f} MiB'
    x, y, w, h = result.box_xywh
    assert 0.0 <= x < WIDTH and 0.0 <= y < HEIGHT and w > 0 and h > 0
