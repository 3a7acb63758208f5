"""Tracking metrics against values worked out by hand on tiny box arrays."""
import numpy as np
import pytest

from stt_tracker_ros.evaluation.metrics import (center_error, iou_xywh, mean_scores,
                                                normalized_center_error, precision_curve,
                                                score_sequence, scored_frames, success_curve)

GT = np.array([[0.0, 0.0, 10.0, 10.0]] * 5)
# Frame 0 is the init frame (ignored, so a wrong box there must not matter); then IoU 1, 1/7,
# 57.5/142.5 and 0, with centre errors 0, 5*sqrt(2), 4.25 and 30 px.
PRED = np.array([[50.0, 50.0, 1.0, 1.0], [0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 10.0, 10.0],
                 [4.25, 0.0, 10.0, 10.0], [30.0, 0.0, 10.0, 10.0]])
VISIBLE = np.ones(5, bool)


def test_iou_hand_values_and_broadcasting():
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2], [0, 0, 2, 2], [3, 3, 4, 4]], float)
    b = np.array([[5, 5, 10, 10], [1, 0, 2, 2], [5, 5, 1, 1], [3, 3, 4, 4]], float)
    np.testing.assert_allclose(iou_xywh(a, b), [25 / 175, 2 / 6, 0.0, 1.0])
    np.testing.assert_allclose(iou_xywh(a, b), iou_xywh(b, a))
    np.testing.assert_allclose(iou_xywh(a, [0, 0, 10, 10]), [1.0, 0.04, 0.04, 0.16])
    assert iou_xywh(a, b).shape == (4,)


def test_iou_of_missing_or_empty_boxes_is_zero():
    boxes = np.array([[np.nan] * 4, [0, 0, 0, 0], [1, 1, np.inf, 2]])
    np.testing.assert_array_equal(iou_xywh(boxes, [0, 0, 5, 5]), [0.0, 0.0, 0.0])


def test_center_errors():
    gt = np.array([[0, 0, 10, 20], [0, 0, 10, 20]], float)
    pred = np.array([[3, 4, 10, 20], [np.nan, 0, 1, 1]])
    np.testing.assert_allclose(center_error(pred, gt), [5.0, np.inf])
    np.testing.assert_allclose(normalized_center_error(pred, gt), [np.hypot(0.3, 0.2), np.inf])


def test_curves_use_strict_overlap_and_inclusive_error():
    np.testing.assert_allclose(success_curve(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 1.0])),
                               [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(precision_curve(np.array([0.0, 5.0, np.inf]), np.array([0, 5, 6])),
                               [1 / 3, 2 / 3, 2 / 3])


def test_scored_frames_skip_init_absent_and_degenerate():
    gt = np.array([[0, 0, 5, 5], [0, 0, 5, 5], [np.nan] * 4, [0, 0, 0, 5], [1, 1, 5, 5]], float)
    visible = np.array([True, True, False, True, False])
    np.testing.assert_array_equal(scored_frames(gt, visible), [False, True, False, False, False])


def test_sequence_scores_by_hand():
    scores = score_sequence(PRED, GT, VISIBLE)
    assert scores.frames == 4
    # success: IoU 1 beats 20 of the 21 thresholds, 1/7 beats 0-0.10 (3), 0.4035 beats 0-0.40 (9).
    assert scores.auc == pytest.approx((20 + 3 + 9 + 0) / (4 * 21))
    assert scores.ao == pytest.approx((1 + 1 / 7 + 57.5 / 142.5 + 0) / 4)
    assert scores.sr50 == pytest.approx(0.25) and scores.sr75 == pytest.approx(0.25)
    assert scores.precision_20 == pytest.approx(0.75)
    # normalised errors 0, 0.707, 0.425, 3: within 51 thresholds of 0-0.5 for 51 and 8 of them.
    assert scores.norm_precision == pytest.approx((51 + 0 + 8 + 0) / (4 * 51))
    np.testing.assert_allclose(scores.precision[[4, 5, 7, 8, 29, 30]] * 4, [1, 2, 2, 3, 3, 4])
    assert scores.success.shape == (21,) and scores.norm_precision_curve.shape == (51,)


def test_absent_frames_and_init_do_not_count():
    gt = np.vstack([GT, [[np.nan] * 4], [[0, 0, 10, 10]]])
    pred = np.vstack([PRED, [[99, 99, 1, 1]], [[99, 99, 1, 1]]])
    visible = np.array([True] * 5 + [False, False])
    extended = score_sequence(pred, gt, visible)
    base = score_sequence(PRED, GT, VISIBLE)
    assert extended.frames == base.frames
    assert extended.auc == base.auc and extended.norm_precision == base.norm_precision


def test_missing_predictions_are_misses():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]])
    scores = score_sequence(pred, gt, np.ones(3, bool))
    assert scores.auc == pytest.approx(0.5 * 20 / 21)
    assert scores.precision_20 == 0.5 and scores.ao == 0.5


def test_nothing_to_score_gives_none():
    assert score_sequence(GT[:1], GT[:1], VISIBLE[:1]) is None
    assert score_sequence(PRED, GT, np.array([True, False, False, False, False])) is None
    with pytest.raises(ValueError):
        score_sequence(PRED[:3], GT, VISIBLE)


def test_mean_weighs_sequences_equally():
    perfect = score_sequence(GT, GT, VISIBLE)
    short = score_sequence(np.array([[0, 0, 10, 10], [20, 0, 10, 10]], float), GT[:2],
                           VISIBLE[:2])
    assert perfect.auc == pytest.approx(20 / 21) and short.auc == 0.0
    mean = mean_scores([perfect, short])
    assert mean.frames == 5
    assert mean.auc == pytest.approx(10 / 21)
    np.testing.assert_allclose(mean.success, (perfect.success + short.success) / 2)
    with pytest.raises(ValueError):
        mean_scores([])
