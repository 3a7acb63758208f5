"""The tracker as the node's threads share it: one lock, the enable switch, the order of frames.

The inference worker tracks frames while the executor's callbacks add, remove and reset targets,
switch tracking off and change settings; each of these goes through this class, under its lock.
The tracker keeps the targets (ids, states, `max_targets`); the session adds what only the node
knows: whether tracking is enabled, and in which order frames arrived, so that no frame received
before the latest of the targets' init frames is tracked (it would take a target back in time).
State changes are logged here, where they happen.
"""
import threading

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.tracking.result import InvalidFrameError, TrackResult, TrackState


class StepFailed(Exception):
    """A tracking step raised; the message says how, `states` are the targets' states after."""

    def __init__(self, error: Exception, states: dict[str, TrackState]):
        """Wrap the step's `error`; `states` as the tracker reports them after it."""
        super().__init__(f'tracking failed: {type(error).__name__}: {error}')
        self.states = states


class TrackingSession:
    """Thread-safe use of a MultiTargetTracker (or a double with its interface)."""

    def __init__(self, tracker, logger):
        """Share `tracker`; log state changes to `logger` (the node's rclpy logger)."""
        self.tracker = tracker
        self._logger = logger
        self._lock = threading.Lock()
        self._enabled = True
        self._init_seq = 0   # receive order of the newest init's frame

    def snapshot(self) -> tuple[bool, dict[str, TrackState]]:
        """Whether tracking is enabled, and each target's state by id (oldest first)."""
        with self._lock:
            return self._enabled, self.tracker.states

    def states(self) -> dict[str, TrackState]:
        """Each target's state by id, oldest first."""
        return self.snapshot()[1]

    def enable(self, enabled: bool) -> None:
        """Switch tracking on or off (targets are kept)."""
        with self._lock:
            self._enabled = enabled

    def configure(self, config: TrackerConfig) -> None:
        """Apply tracking settings to every target."""
        with self._lock:
            self.tracker.config = config

    def add(self, seq: int, rgb, box_xywh) -> tuple[str, list[str]]:
        """Start a target on frame `seq` (its receive order); its id and the ids it replaced.

        Raises:
            InvalidBoxError, InvalidFrameError: the targets are left as they were.
        """
        with self._lock:
            before = self.tracker.target_ids
            target_id = self.tracker.add(rgb, box_xywh)
            self._init_seq = max(self._init_seq, seq)
            return target_id, [i for i in before if i not in self.tracker.target_ids]

    def remove(self, target_id: str) -> tuple[bool, list[str]]:
        """Forget one target: whether it existed, and the ids that remain."""
        with self._lock:
            known = target_id in self.tracker.target_ids
            if known:
                self.tracker.remove(target_id)
            return known, self.tracker.target_ids

    def clear(self) -> list[str]:
        """Forget every target; their ids."""
        with self._lock:
            forgotten = self.tracker.target_ids
            self.tracker.clear()   # first: if it fails, everything stays as it was
            self._init_seq = 0
            return forgotten

    def track(self, seq: int, rgb) -> dict[str, TrackResult]:
        """Track every target in frame `seq`: the results by id, in the targets' order; empty
        when tracking is off, there is no target, or the frame is not newer than an init's.

        Raises:
            InvalidFrameError: a bad frame; nothing changed.
            StepFailed: the step raised (the tracker counts it towards LOST).
        """
        with self._lock:
            if not self._enabled or not self.tracker.target_ids or seq <= self._init_seq:
                return {}
            before = self.tracker.states
            try:
                results = self.tracker.track(rgb)
            except InvalidFrameError:
                raise
            except Exception as error:  # noqa: BLE001 - e.g. a device error: the node goes on
                failed = StepFailed(error, self.tracker.states)
                for target_id, state in failed.states.items():
                    if state != before[target_id]:
                        self._logger.warning(
                            f'target {target_id}: {before[target_id].name} -> {state.name} '
                            f'({self.tracker.config.lost_patience} tracking steps in a row '
                            'failed)')
                raise failed from error
            results = {i: results[i] for i in before}   # KeyError if the tracker left one out
        for target_id, result in results.items():
            if result.state != before[target_id]:
                self._logger.info(f'target {target_id}: {before[target_id].name} -> '
                                  f'{result.state.name} (confidence {result.confidence:.2f})')
        return results
