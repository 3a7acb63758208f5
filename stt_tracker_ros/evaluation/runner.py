"""Run trackers over sequences (one-pass evaluation), write result files, then summarise them.

A tracker is anything with `initialize(frame, box_xywh)` and `track(frame)` returning an object
with `.box_xywh` and `.confidence` (`StarkTracker`, `OpenCVTracker`). `initialize` must drop any
previous target, since one tracker instance runs every sequence in turn. Frames are RGB uint8.
"""
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.evaluation.results import write_results
from stt_tracker_ros.evaluation.summary import summarize
from stt_tracker_ros.tracking.result import TrackState

LOGGER = logging.getLogger(__name__)


class Tracker(Protocol):
    """What the runner needs from a tracker."""

    def initialize(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float]
                   ) -> None:
        """Start on `frame` with the target in `box_xywh` (pixels)."""

    def track(self, frame: np.ndarray) -> Any:
        """Return the next frame's result, with `.box_xywh` and `.confidence`."""


def run_sequence(tracker: Tracker, sequence: Sequence
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Initialise on frame 0's ground truth and track every later frame.

    Only the tracker calls are timed; reading or rendering frames is not.

    Args:
        tracker: the tracker.
        sequence: a sequence whose target is visible in frame 0.

    Returns:
        boxes [N, 4] xywh (row 0 = the initialisation box), confidences [N] (1.0 for frame 0),
        times [N] in seconds (entry 0 = `initialize`) and states [N] (TrackState values;
        TRACKING for frame 0 and for results without a `.state`).

    Raises:
        ValueError: the target is not visible in frame 0.
    """
    if not sequence.visible[0]:
        raise ValueError(f'{sequence.name}: no target in frame 0 to initialise on')
    count = len(sequence)
    boxes = np.empty((count, 4))
    confidences = np.empty(count)
    times = np.empty(count)
    states = np.full(count, int(TrackState.TRACKING))
    boxes[0], confidences[0] = sequence.boxes[0], 1.0
    frame = sequence.frames[0]
    start = time.perf_counter()
    tracker.initialize(frame, tuple(float(v) for v in sequence.boxes[0]))
    times[0] = time.perf_counter() - start
    for index in range(1, count):
        frame = sequence.frames[index]
        start = time.perf_counter()
        result = tracker.track(frame)
        times[index] = time.perf_counter() - start
        boxes[index], confidences[index] = result.box_xywh, result.confidence
        states[index] = int(getattr(result, 'state', TrackState.TRACKING))
    return boxes, confidences, times, states


def runnable(sequences: Iterable[Sequence]) -> list[Sequence]:
    """The sequences a tracker can start on (target visible in frame 0); logs the others."""
    kept = []
    for sequence in sequences:
        if sequence.visible[0]:
            kept.append(sequence)
        else:
            LOGGER.warning('skipping %s: target not visible in frame 0', sequence.name)
    return kept


def run_and_write(name: str, tracker: Tracker, sequence: Sequence, folder: str | Path) -> None:
    """Run tracker `name` over one sequence and write its result files to `folder`."""
    boxes, confidences, times, states = run_sequence(tracker, sequence)
    write_results(folder, sequence.name, boxes, confidences, times, states)
    tracked_s = times[1:].sum()
    LOGGER.info('%s on %s: %d frames, %.1f fps', name, sequence.name, len(sequence),
                (len(sequence) - 1) / tracked_s if tracked_s > 0 else float('nan'))


def evaluate(tracker_factories: Mapping[str, Callable[[], Tracker]],
             sequences: Iterable[Sequence], out_dir: str | Path) -> dict:
    """Run every tracker over every sequence, then score and plot them side by side.

    The trackers take turns sequence by sequence, so a drift in the machine's speed (other
    load, clock changes) reaches all their frame rates alike.
    Writes `<out_dir>/<tracker name>/<sequence>{,_conf,_time}.txt`, `<out_dir>/summary.json` and
    `<out_dir>/{success,precision,norm_precision}.png`.

    Args:
        tracker_factories: tracker name (also its results folder name) -> function building a
            fresh tracker (called once per tracker; the tracker is reused for every sequence).
        sequences: the sequences; those without a visible target in frame 0 are skipped.
        out_dir: output folder.

    Returns:
        The summary written to `summary.json` (see `summary.summarize`).
    """
    out_dir = Path(out_dir)
    sequences = runnable(sequences)
    trackers = {name: factory() for name, factory in tracker_factories.items()}
    folders = {name: out_dir / name for name in trackers}
    LOGGER.info('running %s on %d sequences', ', '.join(trackers), len(sequences))
    for sequence in sequences:
        for name, tracker in trackers.items():
            run_and_write(name, tracker, sequence, folders[name])
    return summarize(folders, sequences, out_dir)
