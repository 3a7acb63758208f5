"""Training records: one CSV row per epoch, and a progress line on stderr.

tqdm is not a dependency; the progress line redraws itself in place on a terminal and is
written once per epoch otherwise (e.g. into a batch system's log file).
"""
import csv
import math
import sys
import time
from pathlib import Path
from typing import TextIO

CSV_FIELDS = ('epoch', 'step', 'loss', 'loss_giou', 'loss_l1', 'loss_cls', 'iou', 'lr',
              'val_iou', 'val_accuracy', 'val_auc', 'samples_per_s', 'seconds')


class CsvLog:
    """Appends rows to `<output>/stage<k>/log.csv`; a resumed run continues the same file (whose
    rows are first rewritten under today's columns if it has others)."""

    def __init__(self, path: Path):
        self.path = path
        rows = []
        if path.exists() and path.stat().st_size > 0:
            with open(path, newline='', encoding='utf-8') as stream:
                reader = csv.DictReader(stream)
                if tuple(reader.fieldnames or ()) == CSV_FIELDS:
                    return
                rows = list(reader)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'w', newline='', encoding='utf-8') as stream:
            writer = csv.DictWriter(stream, CSV_FIELDS, restval='', extrasaction='ignore')
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, float | int | None]) -> None:
        """Append one row; missing or None values are left empty, floats keep 6 digits."""
        unknown = set(row) - set(CSV_FIELDS)
        if unknown:
            raise ValueError(f'unknown log columns: {sorted(unknown)}')
        cells = []
        for name in CSV_FIELDS:
            value = row.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append('')
            else:
                cells.append(f'{value:.6g}' if isinstance(value, float) else str(value))
        with open(self.path, 'a', newline='', encoding='utf-8') as stream:
            csv.writer(stream).writerow(cells)


def read_log(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV log as dicts of strings."""
    with open(path, newline='', encoding='utf-8') as stream:
        return list(csv.DictReader(stream))


class ProgressLine:
    """`epoch 3/10 [#####.....] 40/80 loss 1.234 12.5 samples/s` on stderr."""

    def __init__(self, epoch: int, epochs: int, steps: int, enabled: bool = True,
                 stream: TextIO | None = None):
        self.epoch, self.epochs, self.steps = epoch, epochs, steps
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.start = time.perf_counter()

    def _text(self, step: int, samples: int, values: dict[str, float]) -> str:
        done = 20 * step // max(self.steps, 1)
        rate = samples / max(time.perf_counter() - self.start, 1e-9)
        parts = ' '.join(f'{k} {v:.4f}' for k, v in values.items())
        return (f'epoch {self.epoch}/{self.epochs} [{"#" * done}{"." * (20 - done)}] '
                f'{step}/{self.steps} {parts} {rate:.1f} samples/s')

    def update(self, step: int, samples: int, values: dict[str, float]) -> None:
        """Redraw the line (terminals only)."""
        if self.enabled and self.interactive:
            self.stream.write('\r' + self._text(step, samples, values))
            self.stream.flush()

    def close(self, step: int, samples: int, values: dict[str, float]) -> None:
        """Write the final state of the epoch and end the line."""
        if self.enabled:
            self.stream.write(('\r' if self.interactive else '')
                              + self._text(step, samples, values) + '\n')
            self.stream.flush()
