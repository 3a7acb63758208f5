"""One-pass-evaluation metrics for single-object tracking: OTB, LaSOT, TrackingNet and GOT-10k.

Boxes are x, y, w, h in pixels, continuous coordinates (a box's centre is x + w/2, y + h/2).

Which frames are scored (`scored_frames`):
* Frames whose ground truth is absent (not visible, NaN or w/h <= 0) are left out of every
  metric, as the GOT-10k toolkit does with its absence/cover labels. (OTB has no absent frames;
  LaSOT's and TrackingNet's protocols score them differently, so their official numbers can differ
  slightly on sequences with full occlusion.)
* The first frame is left out: it holds the initialisation box, which every tracker reproduces,
  so counting it only inflates the scores of short sequences. This follows the GOT-10k toolkit;
  the OTB toolkit and pytracking score it.
* A prediction that is not finite counts as a miss: IoU 0 and an infinite centre error.

Definitions (per sequence, over the scored frames):
* success(t) = share of frames with IoU > t for t in `SUCCESS_THRESHOLDS` (0, 0.05, ..., 1);
  AUC = the mean of the 21 values (OTB "area under curve").
* precision(t) = share with centre error <= t px for t = 0, 1, ..., 50; `precision_20` = at 20 px.
* normalized precision(t) = share with centre error / GT size <= t, where the error is measured per
  axis in units of the GT width and height, for t in 0, 0.01, ..., 0.5; `norm_precision` = the
  mean of the 51 values (the LaSOT/TrackingNet area between 0 and 0.5).
* AO = mean IoU; SR0.5 and SR0.75 = share of frames with IoU > 0.5 and > 0.75 (GOT-10k).

Across sequences (`mean_scores`) each sequence weighs the same (OTB/LaSOT); the GOT-10k server
pools frames instead, which weighs long sequences more.
"""
from dataclasses import dataclass

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)             # pixels
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)              # in units of the GT size


def iou_xywh(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of xywh boxes, broadcast over leading dimensions.

    Args:
        boxes_a: [..., 4] x, y, w, h.
        boxes_b: [..., 4] x, y, w, h, broadcastable with `boxes_a`.

    Returns:
        [...] IoU in [0, 1]; 0 where either box is not finite or the union is empty.
    """
    a, b = np.asarray(boxes_a, np.float64), np.asarray(boxes_b, np.float64)
    low = np.maximum(a[..., :2], b[..., :2])
    high = np.minimum(a[..., :2] + a[..., 2:], b[..., :2] + b[..., 2:])
    with np.errstate(invalid='ignore', divide='ignore'):
        inter = np.prod(np.clip(high - low, 0.0, None), axis=-1)
        union = (np.clip(a[..., 2], 0.0, None) * np.clip(a[..., 3], 0.0, None)
                 + np.clip(b[..., 2], 0.0, None) * np.clip(b[..., 3], 0.0, None) - inter)
        iou = inter / union
    valid = np.isfinite(a).all(axis=-1) & np.isfinite(b).all(axis=-1) & (union > 0)
    return np.where(valid, iou, 0.0)


def center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance between box centres in pixels.

    Args:
        pred: [..., 4] predicted x, y, w, h.
        gt: [..., 4] ground-truth x, y, w, h.

    Returns:
        [...] distances; inf where `pred` is not finite.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    offset = (pred[..., :2] + pred[..., 2:] / 2) - (gt[..., :2] + gt[..., 2:] / 2)
    distance = np.hypot(offset[..., 0], offset[..., 1])
    return np.where(np.isfinite(pred).all(axis=-1), distance, np.inf)


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Centre distance with x measured in GT widths and y in GT heights (TrackingNet, LaSOT).

    Args:
        pred: [..., 4] predicted x, y, w, h.
        gt: [..., 4] ground-truth x, y, w, h with w, h > 0.

    Returns:
        [...] normalised distances; inf where `pred` is not finite.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    offset = (pred[..., :2] + pred[..., 2:] / 2) - (gt[..., :2] + gt[..., 2:] / 2)
    with np.errstate(invalid='ignore', divide='ignore'):
        scaled = offset / gt[..., 2:]
    distance = np.hypot(scaled[..., 0], scaled[..., 1])
    return np.where(np.isfinite(pred).all(axis=-1), distance, np.inf)


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Share of frames with IoU strictly above each threshold.

    Args:
        ious: [F] IoU of the scored frames (F > 0).
        thresholds: [T] overlap thresholds.

    Returns:
        [T] success rates in [0, 1].
    """
    return (np.asarray(ious)[:, None] > thresholds[None, :]).mean(axis=0)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS
                    ) -> np.ndarray:
    """Share of frames with a centre error at or below each threshold.

    Args:
        errors: [F] centre errors of the scored frames (F > 0), pixels or normalised.
        thresholds: [T] error thresholds in the same unit.

    Returns:
        [T] precision rates in [0, 1].
    """
    return (np.asarray(errors)[:, None] <= thresholds[None, :]).mean(axis=0)


def scored_frames(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Frames that count: target visible with a finite, positive-size box, and not frame 0.

    Args:
        gt: [N, 4] ground-truth boxes.
        visible: [N] bool visibility flags.

    Returns:
        [N] bool mask.
    """
    gt = np.asarray(gt, np.float64)
    with np.errstate(invalid='ignore'):
        mask = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0) & np.asarray(visible)
    mask[:1] = False
    return mask


@dataclass(frozen=True)
class Scores:
    """Metrics of one sequence, or their mean over sequences (see the module docstring).

    Attributes:
        frames: frames scored (summed over sequences for a mean).
        auc: success AUC in [0, 1].
        precision_20: precision at 20 px.
        norm_precision: normalised precision (mean over 0...0.5).
        ao: average overlap.
        sr50: success rate at IoU 0.5.
        sr75: success rate at IoU 0.75.
        success: [21] success curve over SUCCESS_THRESHOLDS.
        precision: [51] precision curve over PRECISION_THRESHOLDS.
        norm_precision_curve: [51] curve over NORM_PRECISION_THRESHOLDS.
    """

    frames: int
    auc: float
    precision_20: float
    norm_precision: float
    ao: float
    sr50: float
    sr75: float
    success: np.ndarray
    precision: np.ndarray
    norm_precision_curve: np.ndarray

    def headline(self) -> dict[str, int | float]:
        """The scalar metrics as a plain dict (for JSON)."""
        return {'frames': self.frames, 'auc': self.auc, 'precision_20': self.precision_20,
                'norm_precision': self.norm_precision, 'ao': self.ao, 'sr50': self.sr50,
                'sr75': self.sr75}


def score_sequence(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> Scores | None:
    """Score one sequence's predictions.

    Args:
        pred: [N, 4] predicted boxes, row 0 being the initialisation box.
        gt: [N, 4] ground truth (NaN rows allowed).
        visible: [N] bool target visibility.

    Returns:
        The scores, or None when no frame can be scored (e.g. a one-frame sequence).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} does not match ground truth {gt.shape}')
    mask = scored_frames(gt, visible)
    if not mask.any():
        return None
    ious = iou_xywh(pred[mask], gt[mask])
    errors = center_error(pred[mask], gt[mask])
    success = success_curve(ious)
    norm = precision_curve(normalized_center_error(pred[mask], gt[mask]),
                           NORM_PRECISION_THRESHOLDS)
    return Scores(frames=int(mask.sum()), auc=float(success.mean()),
                  precision_20=float((errors <= 20.0).mean()), norm_precision=float(norm.mean()),
                  ao=float(ious.mean()), sr50=float((ious > 0.5).mean()),
                  sr75=float((ious > 0.75).mean()), success=success,
                  precision=precision_curve(errors),
                  norm_precision_curve=norm)


def mean_scores(scores: list[Scores]) -> Scores:
    """Average sequences' scores, each sequence weighing the same.

    Args:
        scores: one Scores per sequence (at least one).

    Returns:
        Scores whose values and curves are per-sequence means and `frames` the total.
    """
    if not scores:
        raise ValueError('no scored sequences to average')

    def mean(field: str) -> np.ndarray:
        return np.mean([getattr(s, field) for s in scores], axis=0)

    return Scores(frames=sum(s.frames for s in scores), auc=float(mean('auc')),
                  precision_20=float(mean('precision_20')),
                  norm_precision=float(mean('norm_precision')), ao=float(mean('ao')),
                  sr50=float(mean('sr50')), sr75=float(mean('sr75')), success=mean('success'),
                  precision=mean('precision'), norm_precision_curve=mean('norm_precision_curve'))
