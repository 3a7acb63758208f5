"""Plain-text tables of an evaluation summary (the content of `summary.json`), as printed by
`stt-tracker eval`: one row per sequence and tracker, then each tracker's mean.

A metric that could not be computed (no scored frame, no timing) is shown as '-'.
"""
# (summary key, column title, width, decimals)
METRICS = (('auc', 'AUC', 6, 3), ('precision_20', 'P@20', 6, 3), ('norm_precision', 'Pnorm', 6, 3),
           ('ao', 'AO', 6, 3), ('sr50', 'SR.5', 6, 3), ('sr75', 'SR.75', 6, 3),
           ('fps', 'fps', 7, 1), ('score_auroc', 'AUROC', 6, 3),
           ('confident_misses', 'ConfMiss', 8, 3))


def _metric_cells(entry: dict) -> str:
    """The metric columns of one summary entry."""
    cells = []
    for key, _, width, decimals in METRICS:
        value = entry.get(key)
        cells.append(f'{value:{width}.{decimals}f}' if value is not None else f'{"-":>{width}s}')
    return ' '.join(cells)


def _metric_titles() -> str:
    return ' '.join(f'{title:>{width}s}' for _, title, width, _ in METRICS)


def summary_tables(summary: dict) -> list[str]:
    """The per-sequence table, then the table of means, as lines of text.

    Args:
        summary: as returned by `evaluation.summary.summarize` (layout in its module docstring).
    """
    trackers = summary['trackers']
    names = list(trackers)
    sequences = list(dict.fromkeys(s for entry in trackers.values() for s in entry['sequences']))
    tracker_width = max([7, *(len(name) for name in names)])
    sequence_width = max([8, *(len(name) for name in sequences)])
    lines = [f'{"sequence":{sequence_width}s} {"tracker":{tracker_width}s} {"frames":>6s} '
             f'{_metric_titles()}']
    for sequence in sequences:
        for index, name in enumerate(names):
            entry = trackers[name]['sequences'].get(sequence, {})
            label = sequence if index == 0 else ''
            lines.append(f'{label:{sequence_width}s} {name:{tracker_width}s} '
                         f'{entry.get("frames", 0):6d} {_metric_cells(entry)}')
    lines += ['', f'{"mean":{sequence_width}s} {"tracker":{tracker_width}s} {"frames":>6s} '
              f'{_metric_titles()}']
    for name in names:
        mean = trackers[name]['mean']
        count = mean['sequences']
        label = f'{count} sequence{"" if count == 1 else "s"}'
        lines.append(f'{label:{sequence_width}s} {name:{tracker_width}s} '
                     f'{mean.get("frames") or 0:6d} {_metric_cells(mean)}')
    return lines
