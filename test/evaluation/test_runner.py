"""End to end: OpenCV trackers on synthetic scenes through the runner, result files and summary."""
import json

import cv2
import numpy as np
import pytest

from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.evaluation.metrics import iou_xywh, score_sequence, scored_frames
from stt_tracker_ros.evaluation.opencv_trackers import csrt_tracker, kcf_tracker
from stt_tracker_ros.evaluation.results import read_results, write_results
from stt_tracker_ros.evaluation.runner import evaluate, run_sequence
from stt_tracker_ros.tracking.result import (InvalidBoxError, InvalidFrameError, TrackResult,
                                             TrackState)

EASY = SceneConfig(width=320, height=240, num_frames=40, occlusion=False)


class StaticTracker:
    """A baseline that never moves: what a pipeline that ignores the frames would score."""

    def initialize(self, frame, box_xywh):
        self._box = tuple(box_xywh)

    def track(self, frame):
        return TrackResult(self._box, 0.5, TrackState.TRACKING, False, 0)


def _mean_iou(boxes: np.ndarray, sequence: Sequence) -> float:
    mask = scored_frames(sequence.boxes, sequence.visible)
    return float(iou_xywh(boxes[mask], sequence.boxes[mask]).mean())


def test_csrt_follows_a_synthetic_target():
    sequence = generate_scene(EASY, 3).to_sequence()
    boxes, confidences, times, states = run_sequence(csrt_tracker(), sequence)
    assert boxes.shape == (40, 4) and confidences.shape == (40,) and times.shape == (40,)
    np.testing.assert_array_equal(boxes[0], sequence.boxes[0])
    assert confidences[0] == 1.0 and (times > 0).all()
    assert states.shape == (40,) and set(states) <= {1, 2}
    static, _, _, _ = run_sequence(StaticTracker(), sequence)
    assert _mean_iou(boxes, sequence) > 0.75
    assert _mean_iou(static, sequence) < 0.4


def test_evaluate_writes_results_summary_and_plots(tmp_path):
    sequences = [generate_scene(EASY, seed).to_sequence(f'scene{seed}') for seed in (1, 3)]
    summary = evaluate({'csrt': csrt_tracker, 'static': StaticTracker}, sequences, tmp_path)

    for tracker in ('csrt', 'static'):
        for sequence in sequences:
            boxes, confidences, times = read_results(tmp_path / tracker, sequence.name)
            assert boxes.shape == (40, 4) and len(confidences) == len(times) == 40
    on_disk = json.loads((tmp_path / 'summary.json').read_text())
    assert on_disk == json.loads(json.dumps(summary))
    csrt, static = summary['trackers']['csrt'], summary['trackers']['static']
    assert csrt['mean']['sequences'] == 2 and csrt['mean']['frames'] == 2 * 39
    assert csrt['mean']['auc'] > static['mean']['auc'] + 0.25
    assert csrt['mean']['fps'] > 0 and len(csrt['curves']['success']) == 21
    assert set(csrt['sequences']) == {'scene1', 'scene3'}
    boxes, _, _ = read_results(tmp_path / 'csrt', 'scene1')
    rescored = score_sequence(boxes, sequences[0].boxes, sequences[0].visible)
    assert csrt['sequences']['scene1']['auc'] == pytest.approx(rescored.auc)
    for plot in ('success.png', 'precision.png', 'norm_precision.png'):
        image = cv2.imread(str(tmp_path / plot))
        assert image is not None and image.shape[0] > 100 and image.std() > 10


def test_sequences_without_a_start_are_skipped_and_one_frame_ones_unscored(tmp_path):
    frame = generate_scene(SceneConfig(width=96, height=64, num_frames=1), 0).frames
    hidden = Sequence('hidden', frame, np.full((1, 4), np.nan), np.zeros(1, bool))
    with pytest.raises(ValueError):
        run_sequence(StaticTracker(), hidden)
    still = Sequence('still', frame, np.array([[10.0, 10.0, 20.0, 20.0]]), np.ones(1, bool))
    summary = evaluate({'static': StaticTracker}, [hidden, still], tmp_path)
    static = summary['trackers']['static']
    assert list(static['sequences']) == ['still']
    assert static['sequences']['still']['frames'] == 0 and static['mean']['auc'] is None
    assert not (tmp_path / 'success.png').exists()


def test_result_files_round_trip(tmp_path):
    boxes = np.array([[1.5, 2.25, 3.0, 4.0], [np.nan] * 4])
    write_results(tmp_path / 'new', 'seq', boxes, np.array([1.0, 0.25]), np.array([0.5, 0.001]))
    read_boxes, confidences, times = read_results(tmp_path / 'new', 'seq')
    np.testing.assert_array_equal(read_boxes, boxes)
    np.testing.assert_allclose(confidences, [1.0, 0.25])
    np.testing.assert_allclose(times, [0.5, 0.001])
    (tmp_path / 'new' / 'seq_time.txt').write_text('0.5\n')
    with pytest.raises(ValueError):
        read_results(tmp_path / 'new', 'seq')


@pytest.mark.parametrize('factory', [csrt_tracker, kcf_tracker])
def test_opencv_adapter_contract(factory):
    scene = generate_scene(SceneConfig(width=160, height=120, num_frames=3), 2)
    tracker = factory()
    with pytest.raises(RuntimeError):
        tracker.track(scene.frames[0])
    with pytest.raises(InvalidBoxError):
        tracker.initialize(scene.frames[0], (10.0, 10.0, 0.0, 5.0))
    with pytest.raises(InvalidFrameError):
        tracker.initialize(scene.frames[0].astype(np.float32), tuple(scene.boxes[0]))
    tracker.initialize(scene.frames[0], tuple(scene.boxes[0]))
    result = tracker.track(scene.frames[1])
    assert result.frame_index == 1 and len(result.box_xywh) == 4
    assert result.confidence in (0.0, 1.0)
    with pytest.raises(InvalidFrameError):
        tracker.track(np.zeros((60, 80, 3), np.uint8))


def test_trackers_take_turns_sequence_by_sequence(tmp_path):
    """Interleaving keeps a drift in machine speed from favouring one tracker's frame rate."""
    turns = []

    class Recording(StaticTracker):
        def __init__(self, name):
            self.name = name

        def initialize(self, frame, box_xywh):
            turns.append(self.name)
            super().initialize(frame, box_xywh)

    sequences = [generate_scene(SceneConfig(width=96, height=64, num_frames=3), seed)
                 .to_sequence(f'scene{seed}') for seed in (1, 2, 3)]
    evaluate({'a': lambda: Recording('a'), 'b': lambda: Recording('b')}, sequences, tmp_path)
    assert turns == ['a', 'b'] * 3
