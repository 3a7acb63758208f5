"""A batch of targets gives the same results as tracking each target on its own."""
import numpy as np
import pytest

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.parity import fixture_frames, fixture_model
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.result import InvalidBoxError, TrackState
from stt_tracker_ros.tracking.tracker import StarkTracker

BOXES = [(76.0, 105.0, 40.0, 30.0), (150.0, 60.0, 50.0, 60.0), (20.0, 20.0, 30.0, 30.0)]


@pytest.fixture(scope='module')
def frames(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        data = {k: archive[k] for k in archive.files if k.startswith('tracker')}
    return fixture_frames(data)[:5]


def test_batched_targets_equal_single_targets(frames):
    model = fixture_model('st50', salt=7)
    config = TrackerConfig(update_interval=2, lost_threshold=0.0, update_threshold=0.0)
    multi = MultiTargetTracker(model, config)
    ids = [multi.add(frames[0], box) for box in BOXES]
    assert ids == ['1', '2', '3']
    singles = []
    for box in BOXES:
        single = StarkTracker(model, config)
        single.initialize(frames[0], box)
        singles.append(single)
    updates = 0
    for frame in frames[1:]:
        batched = multi.track(frame)
        updates += sum(r.template_updated for r in batched.values())
        for target_id, single in zip(ids, singles):
            alone = single.track(frame)
            got = batched[target_id]
            np.testing.assert_allclose(got.box_xywh, alone.box_xywh, atol=1e-3)
            assert got.confidence == pytest.approx(alone.confidence, abs=1e-5)
            assert got.template_updated == alone.template_updated
    # Frames 2 and 4 refreshed every target's dynamic template; frames 3 and 4 searched with it.
    assert updates == 2 * len(BOXES)


def test_add_remove_and_bad_box(frames):
    multi = MultiTargetTracker(fixture_model('s50', salt=1))
    assert multi.track(frames[1]) == {}
    first = multi.add(frames[0], BOXES[0])
    with pytest.raises(InvalidBoxError):
        multi.add(frames[0], (0, 0, 0, 0))
    second = multi.add(frames[0], BOXES[1])
    multi.remove(first)
    assert multi.target_ids == [second] and set(multi.track(frames[1])) == {second}
    multi.config = TrackerConfig(lost_threshold=0.9)
    multi.clear()
    assert multi.target_ids == []


def test_targets_share_one_upload_per_frame(frames, monkeypatch):
    """With crops on the device, a frame is copied there once for all targets."""
    from stt_tracker_ros.tracking import device_crop

    uploads = []
    real = device_crop.frame_to_device
    monkeypatch.setattr(device_crop, 'frame_to_device',
                        lambda frame, device: uploads.append(frame) or real(frame, device))
    multi = MultiTargetTracker(fixture_model('s50', salt=1))
    for box in BOXES:
        multi.add(frames[0], box)
    for target in multi._targets.values():
        target.device_crop = True
    multi.track(frames[1])
    assert len([f for f in uploads if f is frames[1]]) == 1


def test_max_targets_and_failing_steps_on_the_real_tracker(frames, monkeypatch):
    model = fixture_model('s50', salt=1)
    multi = MultiTargetTracker(model, TrackerConfig(lost_patience=2), max_targets=2)
    ids = [multi.add(frames[0], box) for box in BOXES]
    assert ids == ['1', '2', '3'] and multi.target_ids == ['2', '3']   # '1' was replaced
    assert multi.states == {'2': TrackState.TRACKING, '3': TrackState.TRACKING}

    def broken(*args):
        raise RuntimeError('CUDA error: device lost')

    with monkeypatch.context() as patch:
        patch.setattr(model, 'search', broken)
        for _ in range(2):
            with pytest.raises(RuntimeError, match='device lost'):
                multi.track(frames[1])
    assert multi.states == {'2': TrackState.LOST, '3': TrackState.LOST}
    results = multi.track(frames[1])   # the model works again: the trackers' own states
    assert {i: r.state for i, r in results.items()} == multi.states
    assert multi.states == {'2': TrackState.TRACKING, '3': TrackState.TRACKING}
