"""Per-sequence result files of one tracker, so scoring never needs a rerun.

In a tracker's folder, sequence `<name>` has three text files with one line per frame:
`<name>.txt` (x,y,w,h boxes in pixels, `nan` where the tracker gave none), `<name>_conf.txt`
(confidence) and `<name>_time.txt` (seconds spent in the tracker call; line 1 is `initialize`),
and a fourth where the run recorded them, `<name>_state.txt` (TrackState values: 1 TRACKING,
2 LOST).
"""
from pathlib import Path

import numpy as np


def result_paths(folder: str | Path, name: str) -> tuple[Path, Path, Path]:
    """The box, confidence and time files of sequence `name` in `folder`."""
    folder = Path(folder)
    return folder / f'{name}.txt', folder / f'{name}_conf.txt', folder / f'{name}_time.txt'


def write_results(folder: str | Path, name: str, boxes: np.ndarray, confidences: np.ndarray,
                  times_s: np.ndarray, states: np.ndarray | None = None) -> None:
    """Write one sequence's results, creating `folder` if needed.

    Args:
        folder: the tracker's results folder.
        name: sequence name.
        boxes: [N, 4] x, y, w, h.
        confidences: [N] confidences.
        times_s: [N] seconds per frame.
        states: [N] TrackState values, or None (no state file).
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    box_path, conf_path, time_path = result_paths(folder, name)
    np.savetxt(box_path, np.asarray(boxes, np.float64).reshape(-1, 4), fmt='%.3f', delimiter=',')
    np.savetxt(conf_path, np.asarray(confidences, np.float64).reshape(-1), fmt='%.5f')
    np.savetxt(time_path, np.asarray(times_s, np.float64).reshape(-1), fmt='%.6f')
    if states is not None:
        np.savetxt(_state_path(folder, name), np.asarray(states, np.int64).reshape(-1),
                   fmt='%d')


def _state_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / f'{name}_state.txt'


def read_states(folder: str | Path, name: str) -> np.ndarray | None:
    """One sequence's recorded TrackState values [N] (int), or None where none were written."""
    path = _state_path(folder, name)
    return np.loadtxt(path, dtype=np.int64, ndmin=1) if path.is_file() else None


def read_results(folder: str | Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one sequence's results.

    Args:
        folder: the tracker's results folder.
        name: sequence name.

    Returns:
        boxes [N, 4], confidences [N] and times in seconds [N], float64.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the three files disagree on the frame count.
    """
    box_path, conf_path, time_path = result_paths(folder, name)
    boxes = np.loadtxt(box_path, delimiter=',', ndmin=2).reshape(-1, 4)
    confidences = np.loadtxt(conf_path, ndmin=1)
    times = np.loadtxt(time_path, ndmin=1)
    if not len(boxes) == len(confidences) == len(times):
        raise ValueError(f'{name} in {folder}: {len(boxes)} boxes, {len(confidences)} '
                         f'confidences and {len(times)} times')
    return boxes, confidences, times
