"""Readers for tracking benchmarks on disk: plain folders, GOT-10k, LaSOT and TrackingNet.

Every reader returns `Sequence`s whose frames are read only when indexed, boxes in 0-based pixel
x, y, w, h (NaN where the target is absent or not annotated) and a visibility mask. Layouts:

* plain (this project's `sot/`): `<root>/<name>/img/*.jpg` and `groundtruth.txt`, one x,y,w,h line
  per frame; `0,0,0,0` marks an absent target.
* GOT-10k: `<root>/<split>/list.txt` names the sequence folders; each holds `00000001.jpg`...,
  `groundtruth.txt` (the test split gives the first line only) and `absence.label` (1 = absent).
* LaSOT: `<root>/<class>/<class>-<n>/img/00000001.jpg`..., `groundtruth.txt` with 1-based boxes
  (shifted here by -1 to 0-based), `full_occlusion.txt` and `out_of_view.txt` (comma-separated
  0/1 flags).
* TrackingNet: `<root>/TRAIN_<k>/frames/<seq>/<i>.jpg` with i from 0 and
  `<root>/TRAIN_<k>/anno/<seq>.txt` (the `TEST` chunk gives the first line only).
"""
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from stt_tracker_ros.data.sequence import (FrameFiles, Sequence, image_files, make_sequence,
                                           read_boxes_txt, read_flags_txt)

LOGGER = logging.getLogger(__name__)


def read_plain_sequence(folder: str | Path) -> Sequence:
    """Read one `<name>/img/*` + `groundtruth.txt` folder.

    Args:
        folder: the sequence folder; its name becomes the sequence name.

    Returns:
        The Sequence.
    """
    folder = Path(folder)
    frames = FrameFiles(image_files(folder / 'img'))
    return make_sequence(folder.name, frames, read_boxes_txt(folder / 'groundtruth.txt'))


def read_plain(root: str | Path) -> list[Sequence]:
    """Read every sequence folder (one with a `groundtruth.txt`) under `root`, sorted by name.

    Args:
        root: folder of sequence folders, e.g. `shared/data/sot`.

    Returns:
        The sequences.
    """
    folders = sorted(p for p in Path(root).iterdir() if (p / 'groundtruth.txt').is_file())
    return [read_plain_sequence(p) for p in folders]


def read_got10k(root: str | Path, split: str = 'val') -> list[Sequence]:
    """Read a GOT-10k split in `list.txt` order (or folder-name order when there is no list).

    Args:
        root: the GOT-10k folder holding `train/`, `val/` and `test/`.
        split: `train`, `val` or `test`.

    Returns:
        The sequences; absent frames (`absence.label` = 1) are not visible.
    """
    split_dir = Path(root) / split
    listing = split_dir / 'list.txt'
    if listing.is_file():
        names = listing.read_text().split()
    else:
        names = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    sequences = []
    for name in names:
        folder = split_dir / name
        absence = folder / 'absence.label'
        sequences.append(make_sequence(
            name, FrameFiles(image_files(folder)), read_boxes_txt(folder / 'groundtruth.txt'),
            read_flags_txt(absence) if absence.is_file() else None))
    return sequences


def _numbered(folder_name: str) -> tuple[str, int]:
    """Sort key for `<class>-<n>` folder names: class, then n as a number."""
    match = re.fullmatch(r'(.*)-(\d+)', folder_name)
    return (match.group(1), int(match.group(2))) if match else (folder_name, -1)


def read_lasot(root: str | Path, names: Iterable[str] | None = None) -> list[Sequence]:
    """Read LaSOT sequences, by class and then by number.

    Args:
        root: the LaSOT folder holding one folder per class.
        names: optional sequence names to keep (e.g. the 280 of the test split); None keeps all.

    Returns:
        The sequences; frames flagged fully occluded or out of view are not visible.
    """
    wanted = None if names is None else set(names)
    folders = sorted((p for p in Path(root).glob('*/*') if (p / 'groundtruth.txt').is_file()),
                     key=lambda p: _numbered(p.name))
    sequences = []
    for folder in folders:
        if wanted is not None and folder.name not in wanted:
            continue
        boxes = read_boxes_txt(folder / 'groundtruth.txt')
        boxes[:, :2] -= 1.0                       # MATLAB 1-based corners to 0-based
        absent = (read_flags_txt(folder / 'full_occlusion.txt')
                  | read_flags_txt(folder / 'out_of_view.txt'))
        frames = FrameFiles(image_files(folder / 'img'))
        sequences.append(make_sequence(folder.name, frames, boxes, absent))
    if wanted is not None and len(sequences) != len(wanted):
        LOGGER.warning('LaSOT: %d of %d requested sequences found under %s', len(sequences),
                       len(wanted), root)
    return sequences


def read_trackingnet(root: str | Path, chunks: Iterable[str] | None = None) -> list[Sequence]:
    """Read TrackingNet chunks in chunk order, sequences by name.

    Args:
        root: the TrackingNet folder holding `TRAIN_0` ... `TRAIN_11` and `TEST`.
        chunks: chunk folder names to read; None reads every `TRAIN_<k>` and `TEST` present.

    Returns:
        The sequences, named by their annotation file stem.
    """
    root = Path(root)
    if chunks is None:
        present = [p.name for p in root.iterdir() if re.fullmatch(r'TRAIN_\d+|TEST', p.name)]
        chunks = sorted(present, key=lambda n: int(n[6:]) if n != 'TEST' else 1 << 30)
    sequences = []
    for chunk in chunks:
        for anno in sorted((root / chunk / 'anno').glob('*.txt')):
            frames = FrameFiles(image_files(root / chunk / 'frames' / anno.stem))
            sequences.append(make_sequence(anno.stem, frames, read_boxes_txt(anno)))
    return sequences
