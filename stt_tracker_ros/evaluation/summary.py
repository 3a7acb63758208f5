"""Score result folders against ground truth and write `summary.json` plus comparison plots.

`summary.json` layout:
```
{"protocol": {...how frames are scored, thresholds...},
 "trackers": {"<tracker>": {
     "mean": {"sequences", "frames", "auc", "precision_20", "norm_precision", "ao", "sr50",
              "sr75", "fps", "score_auroc", "confident_misses"},
     "curves": {"success": [21], "precision": [51], "norm_precision": [51]},
     "sequences": {"<name>": {"frames", "auc", ..., "fps"}}}}}
```
A sequence with no scorable frame (e.g. a one-frame COCO sequence) has only `frames` = 0 and `fps`
and is left out of the mean. `fps` counts `track` calls only (not `initialize`); the mean fps is
total tracked frames over total tracking time. Metrics are null for a tracker with nothing scored.
`score_auroc` and `confident_misses` (evaluation/confidence.py) pool the frames of all sequences
in the mean, since a sequence with only hits or only misses has no AUROC of its own.
"""
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.evaluation.confidence import confidence_scores, frame_ious
from stt_tracker_ros.evaluation.metrics import (NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS,
                                                SUCCESS_THRESHOLDS, Scores, mean_scores,
                                                score_sequence)
from stt_tracker_ros.evaluation.plots import plot_curves
from stt_tracker_ros.evaluation.results import read_results, read_states

LOGGER = logging.getLogger(__name__)

PROTOCOL = {
    'scored_frames': 'target visible with a finite, positive-size box; frame 0 (init) excluded',
    'success': 'share of frames with IoU > t; auc = mean over success_thresholds',
    'precision_20': 'share of frames with centre error <= 20 px',
    'norm_precision': 'mean over norm_precision_thresholds of the share of frames whose centre '
                      'error, in GT widths and heights, is <= t',
    'ao_sr': 'ao = mean IoU; sr50 / sr75 = share of frames with IoU > 0.5 / 0.75',
    'mean': 'each sequence weighs the same; score_auroc and confident_misses pool all frames',
    'score_auroc': 'AUROC of the confidence at telling frames with IoU > 0.5 from the rest '
                   '(target absent: IoU 0)',
    'confident_misses': 'share of the frames reported TRACKING whose IoU is below 0.1',
    'success_thresholds': SUCCESS_THRESHOLDS.tolist(),
    'precision_thresholds_px': PRECISION_THRESHOLDS.tolist(),
    'norm_precision_thresholds': NORM_PRECISION_THRESHOLDS.tolist(),
}


def _fps(frames: int, seconds: float) -> float | None:
    """Frames per second, or None without timing."""
    return frames / seconds if seconds > 0 else None


def _tracker_summary(folder: Path, sequences: list[Sequence]) -> tuple[dict, Scores | None]:
    """Per-sequence and mean metrics of one tracker's result folder."""
    per_sequence, scored = {}, []
    tracked_frames, tracked_s = 0, 0.0
    pooled: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = []
    for sequence in sequences:
        boxes, confidences, times = read_results(folder, sequence.name)
        states = read_states(folder, sequence.name)
        scores = score_sequence(boxes, sequence.boxes, sequence.visible)
        entry = scores.headline() if scores is not None else {'frames': 0}
        entry['fps'] = _fps(len(times) - 1, float(times[1:].sum()))
        tracked = (confidences[1:], None if states is None else states[1:],
                   frame_ious(boxes, sequence.boxes, sequence.visible))
        entry.update(confidence_scores(*tracked))
        pooled.append(tracked)
        per_sequence[sequence.name] = entry
        tracked_frames += len(times) - 1
        tracked_s += float(times[1:].sum())
        if scores is not None:
            scored.append(scores)
    mean = mean_scores(scored) if scored else None
    if mean is None:
        LOGGER.warning('%s: no sequence had a frame to score', folder)
    headline = mean.headline() if mean is not None else {
        key: None for key in ('frames', 'auc', 'precision_20', 'norm_precision', 'ao', 'sr50',
                              'sr75')}
    confidences, states, ious = zip(*pooled) if pooled else ((), (), ())
    confidence = confidence_scores(
        np.concatenate([[], *confidences]),
        None if any(s is None for s in states) else np.concatenate([[], *states]),
        np.concatenate([[], *ious]))
    summary = {
        'mean': {'sequences': len(scored), **headline, 'fps': _fps(tracked_frames, tracked_s),
                 **confidence},
        'curves': None if mean is None else {
            'success': mean.success.tolist(), 'precision': mean.precision.tolist(),
            'norm_precision': mean.norm_precision_curve.tolist()},
        'sequences': per_sequence,
    }
    return summary, mean


def summarize(results_dirs: Mapping[str, str | Path], sequences: Iterable[Sequence],
              out_dir: str | Path) -> dict:
    """Score each tracker's result files and write `summary.json` and the plots into `out_dir`.

    Args:
        results_dirs: tracker name -> folder holding its per-sequence result files.
        sequences: the ground truth; every sequence needs a result file in every folder.
        out_dir: where `summary.json`, `success.png`, `precision.png` and `norm_precision.png`
            go.

    Returns:
        The summary (the content of `summary.json`, layout in the module docstring).

    Raises:
        FileNotFoundError: a tracker has no results for one of the sequences.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sequences = list(sequences)
    summary = {'protocol': PROTOCOL, 'trackers': {}}
    means = {}
    for name, folder in results_dirs.items():
        summary['trackers'][name], mean = _tracker_summary(Path(folder), sequences)
        if mean is not None:
            means[name] = mean
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
    if means:
        plot_curves(means, out_dir)
    return summary
