"""Confidence metrics: AUROC of hits against misses, and confident misses, per sequence and
pooled in the summary."""
import json

import numpy as np
import pytest

from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.evaluation.confidence import (auroc, confidence_scores,
                                                   confident_miss_rate, frame_ious)
from stt_tracker_ros.evaluation.results import write_results
from stt_tracker_ros.evaluation.summary import summarize
from stt_tracker_ros.tracking.result import TrackState

TRACKING, LOST = int(TrackState.TRACKING), int(TrackState.LOST)


def test_auroc_ranks_hits_against_misses_with_ties_counted_half():
    positive = np.array([True, True, False, False])
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), positive) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), positive) == 0.0
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), positive) == 0.5
    # one hit above both misses, one tied with a miss and above the other: (2 + 1.5) / 4
    assert auroc(np.array([0.9, 0.3, 0.3, 0.1]), positive) == pytest.approx(0.875)
    assert auroc(np.array([0.9, 0.8]), np.array([True, True])) is None
    assert auroc(np.array([np.nan, 0.8]), np.array([True, False])) is None


def test_auroc_agrees_with_counting_every_pair():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(60), 1)        # rounded: many ties
    positive = rng.random(60) < 0.4
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0)
             for p in scores[positive] for n in scores[~positive]]
    assert auroc(scores, positive) == pytest.approx(np.mean(pairs))


def test_confident_misses_count_tracking_frames_off_the_target():
    ious = np.array([0.8, 0.05, 0.0, 0.6, 0.02])
    states = np.array([TRACKING, TRACKING, LOST, TRACKING, LOST])
    assert confident_miss_rate(states, ious) == pytest.approx(1 / 3)
    assert confident_miss_rate(np.full(5, LOST), ious) is None


def test_absent_targets_count_as_misses_and_frame_0_is_left_out():
    gt = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [0, 0, 0, 0], [30, 30, 20, 20]], float)
    visible = np.array([True, True, False, True])
    pred = np.array([[0, 0, 5, 5], [10, 10, 20, 20], [10, 10, 20, 20], [80, 80, 20, 20]], float)
    np.testing.assert_allclose(frame_ious(pred, gt, visible), [1.0, 0.0, 0.0])
    scores = confidence_scores(np.array([0.9, 0.4, 0.2]), np.array([TRACKING, TRACKING, LOST]),
                               frame_ious(pred, gt, visible))
    assert scores == {'score_auroc': 1.0, 'confident_misses': 0.5}


def test_summary_reports_both_per_sequence_and_pooled(tmp_path):
    gt = np.tile([[10.0, 10.0, 20.0, 20.0]], (5, 1))
    sequences = [Sequence(name=name, frames=[None] * 5, boxes=gt, visible=np.ones(5, bool))
                 for name in ('a', 'b')]
    off = [60.0, 60.0, 20.0, 20.0]
    # a: every frame a hit (no AUROC of its own); b: two misses, one of them TRACKING
    write_results(tmp_path / 't', 'a', gt, np.array([1, .9, .8, .9, .7]), np.ones(5),
                  np.full(5, TRACKING))
    write_results(tmp_path / 't', 'b', np.array([gt[0], gt[0], off, off, gt[0]]),
                  np.array([1, .9, .6, .3, .8]), np.ones(5),
                  np.array([TRACKING, TRACKING, TRACKING, LOST, TRACKING]))
    summary = summarize({'t': tmp_path / 't'}, sequences, tmp_path)
    entry = summary['trackers']['t']
    assert entry['sequences']['a']['score_auroc'] is None
    assert entry['sequences']['a']['confident_misses'] == 0.0
    assert entry['sequences']['b']['score_auroc'] == 1.0
    assert entry['sequences']['b']['confident_misses'] == pytest.approx(1 / 3)
    # pooled: hits .9 .8 .9 .7 .9 .8 against misses .6 .3: every hit is above
    assert entry['mean']['score_auroc'] == 1.0
    assert entry['mean']['confident_misses'] == pytest.approx(1 / 7)
    assert json.loads((tmp_path / 'summary.json').read_text()) == summary
