"""How far a tracker's confidence can be trusted: does it separate hits from misses?

A robot acts on the confidence and on the LOST state, so two figures per sequence:
- `score_auroc`: the area under the ROC curve of the confidence as a detector of hits (frames
  whose IoU with the ground truth exceeds 0.5) against misses (all other frames). 1.0 ranks
  every hit above every miss; 0.5 is a coin.
- `confident_misses`: the share of the frames reported TRACKING whose IoU is below 0.1: the
  frames where the robot is told to trust a box that is not on the target.
Frames where the target is absent count as misses (IoU 0): a confident box there is wrong too.
Frame 0 (the initialisation) is left out. Both are None where undefined: no finite confidence,
only hits or only misses (AUROC), or no TRACKING frame (confident misses).
"""
import numpy as np

from stt_tracker_ros.evaluation.metrics import iou_xywh
from stt_tracker_ros.tracking.result import TrackState

HIT_IOU = 0.5
MISS_IOU = 0.1


def frame_ious(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """IoU of every frame after the first, 0 where the target is absent or has no valid box."""
    pred, gt = np.asarray(pred, np.float64)[1:], np.asarray(gt, np.float64)[1:]
    valid = np.asarray(visible, bool)[1:] & np.isfinite(gt).all(1) & (gt[:, 2:] > 0).all(1)
    ious = np.zeros(len(gt))
    if valid.any():
        ious[valid] = np.nan_to_num(iou_xywh(pred[valid], gt[valid]))
    return ious


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of `scores` for the `positive` frames (ties count half);
    None without both classes or with a non-finite score."""
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    count_pos, count_neg = int(positive.sum()), int((~positive).sum())
    if not count_pos or not count_neg or not np.isfinite(scores).all():
        return None
    order = np.argsort(scores, kind='mergesort')
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):   # ties share their mean rank (1-based)
        ranks[order[start:end]] = (start + end + 1) / 2
    wins = ranks[positive].sum() - count_pos * (count_pos + 1) / 2
    return float(wins / (count_pos * count_neg))


def confident_miss_rate(states: np.ndarray, ious: np.ndarray) -> float | None:
    """Share of TRACKING frames whose IoU is below MISS_IOU; None without a TRACKING frame."""
    tracking = np.asarray(states) == TrackState.TRACKING
    if not tracking.any():
        return None
    return float((np.asarray(ious)[tracking] < MISS_IOU).mean())


def confidence_scores(confidences: np.ndarray, states: np.ndarray | None,
                      ious: np.ndarray) -> dict[str, float | None]:
    """`score_auroc` and `confident_misses` of tracked frames (frame 0 left out by the caller,
    as `frame_ious` does); `states` None when the results did not record them."""
    return {'score_auroc': auroc(confidences, ious > HIT_IOU),
            'confident_misses': None if states is None else confident_miss_rate(states, ious)}
