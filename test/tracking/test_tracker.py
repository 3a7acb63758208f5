"""Tracker behaviour with a model double whose box and confidence the test controls."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from stt_tracker_ros.config import ModelConfig, TrackerConfig
from stt_tracker_ros.model.placement import PlacedModule
from stt_tracker_ros.model.stark import StarkOutput, Tokens
from stt_tracker_ros.tracking.result import InvalidBoxError, InvalidFrameError, TrackState
from stt_tracker_ros.tracking.tracker import StarkTracker


class ScriptedModel(PlacedModule):
    """Stands in for STARK: returns a centred box of the template's size and scripted scores.

    `confidences` are consumed one per frame; each encode records the crop's mean pixel so
    tests can tell which image a template came from.
    """

    def __init__(self, confidences, num_templates=2, centre_x=0.5):
        super().__init__()
        self.centre_x = centre_x
        self.config = ModelConfig(num_templates=num_templates)
        self.anchor = nn.Parameter(torch.zeros(1))
        self.confidences = list(confidences)
        self.encoded = []
        self.decoded_templates = []

    def encode(self, image, mask):
        self.encoded.append(float(image.mean()))
        return Tokens(image.mean().reshape(1, 1, 1), mask.flatten(1)[:, :1], image[:1, :1, 0, :1])

    def search(self, templates, image, mask):
        self.decoded_templates.append([float(t.feat) for t in templates])
        # A box of 1/5 of the crop centred in it: the same box as before, for factor 5.
        boxes = torch.tensor([[self.centre_x, 0.5, 0.2, 0.2]])
        logit = torch.logit(torch.tensor([self.confidences.pop(0)]).clamp(1e-6, 1 - 1e-6))
        return StarkOutput(boxes, logit, torch.zeros(1, 256))


FRAME = np.full((240, 320, 3), 100, np.uint8)
BOX = (100.0, 80.0, 40.0, 40.0)


def make_tracker(confidences, **config):
    return StarkTracker(ScriptedModel(confidences), TrackerConfig(**config))


@pytest.mark.parametrize('box', [
    (400, 10, 20, 20),            # right of the image
    (10, -50, 20, 20),            # above the image
    (10, 10, 0, 20),              # zero width
    (10, 10, 20, -5),             # negative height
    (math.nan, 10, 20, 20),       # NaN
    (10, 10, math.inf, 20),       # infinite
    (10, 10, 20),                 # three numbers
    'abcd',
])
def test_invalid_init_box_is_rejected_and_keeps_the_track(box):
    tracker = make_tracker([0.9])
    tracker.initialize(FRAME, BOX)
    with pytest.raises(InvalidBoxError):
        tracker.initialize(FRAME, box)
    assert tracker.state == TrackState.TRACKING
    assert tracker.track(FRAME).box_xywh == pytest.approx(BOX)


@pytest.mark.parametrize('frame', [
    np.zeros((240, 320), np.uint8),
    np.zeros((240, 320, 4), np.uint8),
    np.zeros((240, 320, 3), np.float32),
    np.zeros((0, 320, 3), np.uint8),
    [[0, 0, 0]],
])
def test_invalid_frames_raise(frame):
    tracker = make_tracker([0.9])
    with pytest.raises(InvalidFrameError):
        tracker.initialize(frame, BOX)
    assert tracker.state == TrackState.IDLE


def test_track_before_initialize_raises():
    with pytest.raises(RuntimeError, match='before initialize'):
        make_tracker([]).track(FRAME)


def test_size_change_mid_track_raises_and_keeps_the_track():
    tracker = make_tracker([0.9])
    tracker.initialize(FRAME, BOX)
    with pytest.raises(InvalidFrameError, match='size changed'):
        tracker.track(np.zeros((480, 640, 3), np.uint8))
    result = tracker.track(FRAME)
    assert result.frame_index == 1 and result.state == TrackState.TRACKING


def test_lost_after_patience_and_recovery():
    confidences = [0.9, 0.2, 0.2, 0.2, 0.1, 0.8, 0.9]
    tracker = make_tracker(confidences, lost_threshold=0.5, lost_patience=3)
    tracker.initialize(FRAME, BOX)
    states = [tracker.track(FRAME).state for _ in confidences]
    T, L = TrackState.TRACKING, TrackState.LOST
    assert states == [T, T, T, L, L, T, T]


def test_search_returns_to_last_confident_box_while_lost():
    """While LOST, low-confidence predictions must not drag the search region away."""
    tracker = make_tracker([0.9, 0.1, 0.1, 0.1], lost_patience=1)
    tracker.initialize(FRAME, BOX)
    tracker.track(FRAME)
    confident = tracker._confident_box
    lost = tracker.track(FRAME)
    assert lost.state == TrackState.LOST
    assert tracker._confident_box == confident
    # Every later search crop is centred on the confident box, so the prediction stays there.
    for _ in range(2):
        x, y, w, h = tracker.track(FRAME).box_xywh
        cx, cy, cw, ch = confident
        assert (x + w / 2, y + h / 2) == pytest.approx((cx + cw / 2, cy + ch / 2))


def test_search_follows_the_predictions_while_lost_when_asked():
    """follow_when_lost: LOST is a report and every search region is centred on the latest
    prediction, as in the official tracker."""
    # Each prediction lies 0.05 crop sides (10 px) right of the search region's centre.
    tracker = StarkTracker(ScriptedModel([0.9, 0.1, 0.1, 0.1], centre_x=0.55),
                           TrackerConfig(lost_patience=1, follow_when_lost=True))
    tracker.initialize(FRAME, BOX)
    previous = tracker.track(FRAME).box_xywh
    for _ in range(3):
        result = tracker.track(FRAME)
        assert result.state == TrackState.LOST
        assert result.box_xywh[0] == pytest.approx(previous[0] + 10.0, abs=0.5)
        assert tracker.search_anchor(FRAME) == result.box_xywh
        previous = result.box_xywh


@pytest.mark.parametrize('network_factor, setting, width', [
    (5.0, None, 40.0),   # official networks: the crop is 5x the target, as in STARK
    (4.5, None, 36.0),   # a network made for another crop gets its own
    (4.5, 4.0, 32.0),    # the setting overrides the network's
])
def test_search_crop_factor_comes_from_the_network_unless_set(network_factor, setting, width):
    model = ScriptedModel([0.9])
    model.config = ModelConfig(search_factor=network_factor)
    tracker = StarkTracker(model, TrackerConfig(search_factor=setting))
    tracker.initialize(FRAME, BOX)
    # The network says 1/5 of the crop's side; the crop's side is the factor x the target's.
    assert tracker.track(FRAME).box_xywh[2] == pytest.approx(width)


def test_reset_returns_to_idle():
    tracker = make_tracker([0.9])
    tracker.initialize(FRAME, BOX)
    tracker.reset()
    assert tracker.state == TrackState.IDLE
    with pytest.raises(RuntimeError):
        tracker.track(FRAME)


def test_template_update_interval_and_threshold():
    confidences = [0.9, 0.9, 0.4, 0.9, 0.9, 0.9]
    tracker = make_tracker(confidences, update_interval=3, update_threshold=0.5,
                           lost_threshold=0.3)
    tracker.initialize(FRAME, BOX)
    updated = [tracker.track(FRAME).template_updated for _ in confidences]
    # Frame 3 has confidence 0.4 (below 0.5): no refresh; frame 6 refreshes.
    assert updated == [False, False, False, False, False, True]


def test_dynamic_template_comes_from_the_new_frame():
    model = ScriptedModel([0.9, 0.9])
    tracker = StarkTracker(model, TrackerConfig(update_interval=1))
    tracker.initialize(FRAME, BOX)
    brighter = np.full_like(FRAME, 200)
    tracker.track(brighter)
    tracker.track(brighter)
    initial, dynamic = model.decoded_templates[-1]
    assert initial == model.encoded[0]          # the first template is never replaced
    assert dynamic != initial and dynamic > 0   # the refreshed one saw the brighter frame


def test_runtime_threshold_change():
    tracker = make_tracker([0.6, 0.6], lost_threshold=0.5, lost_patience=1)
    tracker.initialize(FRAME, BOX)
    assert tracker.track(FRAME).state == TrackState.TRACKING
    tracker.config = TrackerConfig(lost_threshold=0.7, lost_patience=1)
    assert tracker.track(FRAME).state == TrackState.LOST


def test_box_stays_inside_the_frame():
    tracker = make_tracker([0.9])
    tracker.initialize(FRAME, (300.0, 220.0, 40.0, 40.0))  # partly outside bottom-right
    x, y, w, h = tracker.track(FRAME).box_xywh
    assert x <= 320 - 10 and y <= 240 - 10 and x + w <= 320 and y + h <= 240
