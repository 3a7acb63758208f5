"""Success, precision and normalised-precision plots comparing trackers (PNG, via matplotlib).

Uses matplotlib's object API with no pyplot, so no GUI backend or global state is touched.
"""
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from stt_tracker_ros.evaluation.metrics import (NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS,
                                                SUCCESS_THRESHOLDS, Scores)


def _plot(path: Path, title: str, xlabel: str, thresholds: np.ndarray,
          curves: list[tuple[str, float, np.ndarray]], legend_at: str) -> None:
    """One figure: a line per tracker (same colour in every figure), legend ordered by score."""
    figure = Figure(figsize=(6.0, 4.5), dpi=100, layout='constrained')
    axes = figure.subplots()
    colours = {label: f'C{index % 10}' for index, (label, _, _) in enumerate(curves)}
    for label, score, curve in sorted(curves, key=lambda c: -c[1]):
        axes.plot(thresholds, curve, color=colours[label], linewidth=2,
                  label=f'{label} [{score:.3f}]')
    axes.set(title=title, xlabel=xlabel, ylabel='share of frames',
             xlim=(thresholds[0], thresholds[-1]), ylim=(0.0, 1.0))
    axes.grid(True, alpha=0.4)
    axes.legend(loc=legend_at)
    figure.savefig(path)


def plot_curves(scores: Mapping[str, Scores], out_dir: str | Path) -> list[Path]:
    """Write `success.png`, `precision.png` and `norm_precision.png` into `out_dir`.

    Args:
        scores: tracker name -> its mean scores over the sequences.
        out_dir: existing output folder.

    Returns:
        The written files.
    """
    out_dir = Path(out_dir)
    plots = [
        ('success.png', 'Success plot (legend: AUC)', 'IoU threshold', SUCCESS_THRESHOLDS,
         [(n, s.auc, s.success) for n, s in scores.items()], 'lower left'),
        ('precision.png', 'Precision plot (legend: at 20 px)', 'centre error threshold (px)',
         PRECISION_THRESHOLDS, [(n, s.precision_20, s.precision) for n, s in scores.items()],
         'lower right'),
        ('norm_precision.png', 'Normalised precision plot (legend: area)',
         'normalised centre error threshold', NORM_PRECISION_THRESHOLDS,
         [(n, s.norm_precision, s.norm_precision_curve) for n, s in scores.items()],
         'lower right'),
    ]
    written = []
    for file_name, title, xlabel, thresholds, curves, legend_at in plots:
        _plot(out_dir / file_name, title, xlabel, thresholds, curves, legend_at)
        written.append(out_dir / file_name)
    return written
