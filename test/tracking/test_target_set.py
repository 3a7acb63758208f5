"""The books of a multi-target tracker: ids, the max_targets limit, LOST after failing steps."""
import pytest

from stt_tracker_ros.tracking.result import InvalidFrameError, TrackState
from stt_tracker_ros.tracking.target_set import TargetSet


class Target:
    """Stands in for a target's tracker: just its own state."""

    def __init__(self, state: TrackState = TrackState.TRACKING):
        self.state = state


def fail(error: Exception):
    """A step that raises `error`."""
    def step():
        raise error
    return step


def test_ids_are_never_reused_and_the_oldest_goes_beyond_max_targets():
    targets = TargetSet(max_targets=2)
    assert [targets.add(Target()) for _ in range(2)] == ['1', '2']
    assert targets.add(Target()) == '3' and targets.ids == ['2', '3']
    targets.remove('2')
    targets.max_targets = 3
    assert [targets.add(Target()) for _ in range(2)] == ['4', '5']
    assert targets.ids == ['3', '4', '5'] and len(targets) == 3
    targets.clear()
    assert targets.add(Target()) == '6' and targets.ids == ['6']
    with pytest.raises(KeyError):
        targets.remove('2')


def test_failing_steps_make_targets_lost_until_one_succeeds():
    targets = TargetSet()
    first = targets.add(Target())
    assert targets.step(lambda: 'results') == 'results'
    with pytest.raises(RuntimeError):
        targets.step(fail(RuntimeError('device lost')))
    assert targets.states(lost_patience=2) == {first: TrackState.TRACKING}
    second = targets.add(Target())   # joins mid-streak: its count starts at 0
    with pytest.raises(RuntimeError):
        targets.step(fail(RuntimeError('device lost')))
    assert targets.states(lost_patience=2) == {first: TrackState.LOST,
                                               second: TrackState.TRACKING}
    with pytest.raises(InvalidFrameError):   # a bad frame is no failed step
        targets.step(fail(InvalidFrameError('frame size changed')))
    assert targets.states(lost_patience=3)[first] == TrackState.TRACKING
    targets.step(lambda: None)
    assert targets.states(lost_patience=1) == {first: TrackState.TRACKING,
                                               second: TrackState.TRACKING}


def test_a_trackers_own_state_shows_when_its_steps_succeed():
    targets = TargetSet()
    lost = targets.add(Target(TrackState.LOST))
    idle = targets.add(Target(TrackState.IDLE))
    assert targets.states(lost_patience=1) == {lost: TrackState.LOST, idle: TrackState.IDLE}
