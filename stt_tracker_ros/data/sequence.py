"""A tracking sequence: frames read on access, per-frame ground-truth boxes and visibility."""
import collections.abc
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LOGGER = logging.getLogger(__name__)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')

Frames = collections.abc.Sequence  # anything with len() and [i] -> [H, W, 3] uint8 RGB


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: image file.

    Returns:
        [H, W, 3] uint8 RGB.

    Raises:
        FileNotFoundError: the file is missing or cannot be decoded.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class FrameFiles(collections.abc.Sequence):
    """Image files as a read-only list of RGB frames, each decoded when indexed."""

    def __init__(self, paths: collections.abc.Iterable[str | Path]) -> None:
        """Keep the file paths; nothing is read yet.

        Args:
            paths: image files in frame order.
        """
        self.paths = tuple(Path(p) for p in paths)

    def __len__(self) -> int:
        """Number of frames."""
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame `index` as [H, W, 3] uint8 RGB (negative indices count from the end)."""
        return load_rgb(self.paths[index])


def image_files(folder: Path) -> list[Path]:
    """Image files of a folder in frame order: numeric names by value (2 before 10) first."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: (0, int(p.stem), '') if p.stem.isdigit()
                  else (1, 0, p.stem))


def read_boxes_txt(path: Path) -> np.ndarray:
    """Read one x,y,w,h box per line; commas, tabs or spaces separate; 'nan' is allowed.

    Args:
        path: annotation text file.

    Returns:
        [N, 4] float64; a line with fewer than 4 numbers gives a NaN row.
    """
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        values = line.replace(',', ' ').replace('\t', ' ').split()
        rows.append([float(v) for v in values[:4]] if len(values) >= 4 else [np.nan] * 4)
    return np.array(rows, np.float64).reshape(-1, 4)


def read_flags_txt(path: Path) -> np.ndarray:
    """Read 0/1 flags separated by commas, spaces or newlines (LaSOT, GOT-10k label files).

    Args:
        path: flag file.

    Returns:
        [N] bool.
    """
    values = path.read_text().replace(',', ' ').split()
    return np.array([int(float(v)) != 0 for v in values], bool)


@dataclass(frozen=True, eq=False)
class Sequence:
    """One video (or one image) with ground truth for a single target.

    Invariant: `boxes[i]` is finite exactly where `visible[i]` is True.

    Attributes:
        name: unique name, usable as a file name.
        frames: len() and [i] give [H, W, 3] uint8 RGB frames.
        boxes: [N, 4] float64 x, y, w, h in pixels (0-based top-left); NaN rows where the target is
            absent or not annotated.
        visible: [N] bool, the target is in view and annotated.
    """

    name: str
    frames: Frames
    boxes: np.ndarray
    visible: np.ndarray

    def __post_init__(self) -> None:
        """Check that frames, boxes and flags agree."""
        count = len(self.frames)
        if self.boxes.shape != (count, 4) or self.visible.shape != (count,):
            raise ValueError(f'{self.name}: {count} frames but boxes {self.boxes.shape} and '
                             f'visible {self.visible.shape}')
        if not np.array_equal(np.isfinite(self.boxes).all(axis=1), self.visible):
            raise ValueError(f'{self.name}: boxes must be finite exactly where visible')

    def __len__(self) -> int:
        """Number of frames."""
        return len(self.frames)


def make_sequence(name: str, frames: Frames, boxes: np.ndarray,
                  absent: np.ndarray | None = None) -> Sequence:
    """Build a Sequence from raw annotation rows, marking unusable rows as not visible.

    A row is kept when its four values are finite, w > 0 and h > 0 (so `0,0,0,0` means absent)
    and `absent` does not flag it. Missing rows at the end (a test split that gives only the first
    box) become NaN; extra rows are dropped with a warning.

    Args:
        name: sequence name.
        frames: the frames.
        boxes: [M, 4] x, y, w, h rows as read from the annotation file.
        absent: optional [M'] bool, True where the data set says the target is not visible.

    Returns:
        The Sequence with NaN boxes where not visible.
    """
    count = len(frames)
    rows = _fit_rows(name, np.asarray(boxes, np.float64).reshape(-1, 4), count, 'box')
    with np.errstate(invalid='ignore'):
        visible = np.isfinite(rows).all(axis=1) & (rows[:, 2] > 0) & (rows[:, 3] > 0)
    if absent is not None:
        flags = _fit_rows(name, np.asarray(absent, np.float64).reshape(-1, 1), count, 'flag')
        visible &= flags[:, 0] == 0          # a missing flag (NaN) counts as absent
    rows[~visible] = np.nan
    return Sequence(name, frames, rows, visible)


def _fit_rows(name: str, rows: np.ndarray, count: int, what: str) -> np.ndarray:
    """Pad `rows` with NaN or cut it to `count` rows."""
    if len(rows) > count:
        LOGGER.warning('%s: %d %s rows for %d frames; extra rows ignored', name, len(rows), what,
                       count)
        return rows[:count].copy()
    padding = np.full((count - len(rows), rows.shape[1]), np.nan)
    return np.concatenate([rows, padding])
