"""Tracking with STARK-Lightning: official logic (no score, no template update, never LOST),
batched targets, and the tracker `build_tracker` makes from a Lightning checkpoint."""
import math

import numpy as np
import pytest
import torch

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.model.checkpoint import save_safetensors
from stt_tracker_ros.parity import fixture_frames, fixture_model
from stt_tracker_ros.tracking.factory import build_multi_target_tracker, build_tracker
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.result import TrackState
from stt_tracker_ros.tracking.tracker import StarkTracker

FRAMES = 4   # the init frame and three tracked ones


@pytest.fixture(scope='module')
def frames(lightning_data):
    return fixture_frames(lightning_data)[:FRAMES]


@pytest.fixture(scope='module')
def model(lightning_data):
    return fixture_model('lightning', int(lightning_data['salt']))


def _track(tracker: StarkTracker, frames, box) -> list:
    tracker.initialize(frames[0], box)
    return [tracker.track(frame) for frame in frames[1:]]


def test_no_confidence_no_template_update_never_lost(model, frames, lightning_data):
    # The tightest LOST settings: one frame below a threshold of 1.0 would do it.
    tracker = StarkTracker(model, TrackerConfig(lost_threshold=1.0, lost_patience=1,
                                                update_interval=1, update_threshold=0.0))
    results = _track(tracker, frames, lightning_data['tracker/init_box'])
    assert all(math.isnan(r.confidence) for r in results)
    assert all(r.state == TrackState.TRACKING and not r.template_updated for r in results)
    assert len(tracker.templates) == 1
    np.testing.assert_allclose([r.box_xywh for r in results],
                               lightning_data['tracker/boxes'][1:FRAMES], atol=0.1)


def test_batched_targets_equal_separate_trackers(model, frames):
    boxes = [(60.0, 90.0, 60.0, 50.0), (300.0, 200.0, 40.0, 80.0)]
    multi = MultiTargetTracker(model)
    ids = [multi.add(frames[0], box) for box in boxes]
    together = [multi.track(frame) for frame in frames[1:]]
    for target_id, box in zip(ids, boxes):
        alone = _track(StarkTracker(model), frames, box)
        np.testing.assert_allclose([step[target_id].box_xywh for step in together],
                                   [r.box_xywh for r in alone], atol=1e-3)


def test_build_tracker_runs_the_fused_model_with_the_reference_boxes(lightning_data, frames,
                                                                     tmp_path):
    unfused = fixture_model('lightning', int(lightning_data['salt']), fused=False)
    path = tmp_path / 'lightning.safetensors'
    save_safetensors(unfused, path)   # the official training-time keys
    config = TrackerConfig(lost_threshold=0.0)
    tracker = build_tracker(str(path), device='cpu', config=config)
    state = tracker.model.state_dict()
    assert tracker.model.config.name == 'lightning'
    assert any('.rbr_reparam.' in k for k in state) and not any('rbr_dense' in k for k in state)
    results = _track(tracker, frames, lightning_data['tracker/init_box'])
    np.testing.assert_allclose([r.box_xywh for r in results],
                               lightning_data['tracker/boxes'][1:FRAMES], atol=0.1)
    multi = build_multi_target_tracker(str(path), 'lightning', device='cpu', config=config)
    target = multi.add(frames[0], lightning_data['tracker/init_box'])
    np.testing.assert_allclose(multi.track(frames[1])[target].box_xywh, results[0].box_xywh,
                               atol=1e-3)


def test_random_lightning_for_timing():
    tracker = build_tracker(None, 'lightning', device='cpu', random_weights=True)
    assert tracker.model.config.name == 'lightning'
    frame = np.zeros((120, 160, 3), np.uint8)
    tracker.initialize(frame, (60, 40, 30, 20))
    with torch.inference_mode():
        assert tracker.track(frame).state == TrackState.TRACKING
