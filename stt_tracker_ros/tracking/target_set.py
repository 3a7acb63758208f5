"""The targets of a multi-target tracker: their ids, the `max_targets` limit, their states.

Each target is followed by a tracker of its own (anything with a `state`, e.g. StarkTracker);
this class only keeps the books. Ids are '1', '2', ... in the order targets are added, never
reused. Adding a target beyond `max_targets` evicts the oldest.

A tracking step that raises (other than for a bad frame) counts as failed for every target. A
target whose last `lost_patience` steps all failed reports LOST, whatever its tracker's own state
says: a tracker that fails frame after frame must not go on saying TRACKING. Its tracker is left
as it was, so the first step that succeeds reports the tracker's state again.
"""
import itertools
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from stt_tracker_ros.tracking.result import InvalidFrameError, TrackState


class _Stateful(Protocol):
    @property
    def state(self) -> TrackState:
        """IDLE, TRACKING or LOST."""


Tracker = TypeVar('Tracker', bound=_Stateful)
Step = TypeVar('Step')


class TargetSet(Generic[Tracker]):
    """Per-target trackers under their ids, oldest first."""

    def __init__(self, max_targets: int | None = None):
        """Hold at most `max_targets` targets (None: no limit)."""
        self.max_targets = max_targets
        self._trackers: dict[str, Tracker] = {}
        self._failed_steps: dict[str, int] = {}   # steps in a row that raised, per target
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        """Number of targets."""
        return len(self._trackers)

    @property
    def ids(self) -> list[str]:
        """Ids of the targets, oldest first."""
        return list(self._trackers)

    def items(self) -> list[tuple[str, Tracker]]:
        """(id, tracker) of every target, oldest first."""
        return list(self._trackers.items())

    def values(self) -> list[Tracker]:
        """The targets' trackers, oldest first."""
        return list(self._trackers.values())

    def add(self, tracker: Tracker) -> str:
        """Hold the tracker of a new target (evicting the oldest beyond `max_targets`); its id."""
        target_id = str(next(self._ids))
        self._trackers[target_id] = tracker
        self._failed_steps[target_id] = 0
        while self.max_targets is not None and len(self._trackers) > self.max_targets:
            self.remove(next(iter(self._trackers)))
        return target_id

    def remove(self, target_id: str) -> None:
        """Forget one target (KeyError if unknown)."""
        del self._trackers[target_id]
        del self._failed_steps[target_id]

    def clear(self) -> None:
        """Forget every target."""
        self._trackers.clear()
        self._failed_steps.clear()

    def states(self, lost_patience: int) -> dict[str, TrackState]:
        """Each target's state by id, oldest first: LOST after `lost_patience` failed steps in
        a row, else its tracker's."""
        return {i: TrackState.LOST if self._failed_steps[i] >= lost_patience else tracker.state
                for i, tracker in self._trackers.items()}

    def step(self, run: Callable[[], Step]) -> Step:
        """Run one tracking step of all targets, `run()`, and count it as failed if it raises.

        InvalidFrameError (a bad frame, not a failed step) and every other exception pass
        through; only the latter counts.
        """
        try:
            result = run()
        except InvalidFrameError:
            raise
        except Exception:
            for target_id in self._failed_steps:
                self._failed_steps[target_id] += 1
            raise
        self._failed_steps = dict.fromkeys(self._failed_steps, 0)
        return result
