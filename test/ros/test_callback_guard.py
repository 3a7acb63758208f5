"""No exception leaves a callback: the guard itself, that the node routes every callback through
it, and what the node does over DDS when a callback fails (status, diagnostics, track kept)."""
import logging

import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.callback_guard import (MAX_TEXT, guarded,  # noqa: E402
                                                parameters_refused, service_failure)

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 12


class Context:
    """Stands in for a node's rclpy context: ok until shut down."""

    def __init__(self):
        self.shut_down = False

    def ok(self) -> bool:
        """False once shut down."""
        return not self.shut_down


class Host:
    """Has guarded methods and records what the guard reports."""

    def __init__(self, error: BaseException, report_error: Exception | None = None):
        self.error = error
        self.report_error = report_error
        self.reports = []
        self.context = Context()

    def callback_failed(self, what, text, args):
        """Record the report; raise `report_error` if one is set."""
        self.reports.append((what, text, args))
        if self.report_error is not None:
            raise self.report_error

    @guarded('topic')
    def on_message(self, msg):
        """A subscription callback that raises."""
        raise self.error

    @guarded('service', service_failure)
    def on_request(self, request, response):
        """A service callback that raises."""
        raise self.error

    @guarded('parameters', parameters_refused)
    def on_parameters(self, changes):
        """A parameter callback that raises."""
        raise self.error


def test_exception_is_reported_and_the_fallback_returned():
    host = Host(ZeroDivisionError('division by zero'))
    assert host.on_message('m') is None
    assert host.reports == [('topic', 'topic failed: ZeroDivisionError: division by zero',
                             ('m',))]
    response = host.on_request(Trigger.Request(), Trigger.Response(success=True))
    assert response.success is False and 'service failed: ZeroDivisionError' in response.message
    result = host.on_parameters([])
    assert isinstance(result, SetParametersResult) and not result.successful
    assert result.reason.startswith('parameters failed: ZeroDivisionError')


def test_long_errors_are_cut_to_one_line():
    host = Host(ValueError('box ' + '1234567890\n' * 100))
    host.on_message(None)
    (_, text, _), = host.reports
    assert len(text) == MAX_TEXT and text.endswith('...') and '\n' not in text


def test_a_failing_report_is_logged_and_the_fallback_still_returned(caplog):
    host = Host(KeyError('x'), report_error=RuntimeError('context is shut down'))
    with caplog.at_level(logging.ERROR):
        response = host.on_request(Trigger.Request(), Trigger.Response(success=True))
    assert response.success is False
    assert 'reporting a failed callback failed' in caplog.text


def test_nothing_is_reported_once_the_context_is_shut_down(caplog):
    host = Host(RuntimeError('publisher context is invalid'))
    host.context.shut_down = True
    with caplog.at_level(logging.DEBUG):
        assert host.on_message('m') is None
        assert host.on_request(Trigger.Request(), Trigger.Response()).success is False
    assert host.reports == [] and caplog.records == []


def test_a_report_failing_because_of_a_shutdown_is_not_logged(caplog):
    host = Host(RuntimeError('bug'), report_error=RuntimeError('publisher context is invalid'))
    original = host.callback_failed

    def shut_down_while_reporting(*args):
        host.context.shut_down = True   # Ctrl-C between the failure and its report
        original(*args)

    host.callback_failed = shut_down_while_reporting
    with caplog.at_level(logging.DEBUG):
        assert host.on_message('m') is None
    assert len(host.reports) == 1 and caplog.records == []


def test_keyboard_interrupt_still_stops_the_process():
    with pytest.raises(KeyboardInterrupt):
        Host(KeyboardInterrupt()).on_message(None)


def test_every_callback_of_the_node_is_guarded(tracker_rig, scripted_tracker):
    node, _ = tracker_rig(scripted_tracker, diagnostics_period=0.5)
    registered = [entity.callback for group in (node.subscriptions, node.services, node.timers)
                  for entity in group] + node._on_set_parameters_callbacks
    # Those the node class defines (rclpy registers a few of its own).
    own = [c for c in registered if getattr(c, '__self__', None) is node
           and c.__name__ in vars(type(node))]
    names = {callback.__name__ for callback in own}
    assert {'_on_image', '_on_init_box', '_on_init', '_on_remove_target', '_on_reset',
            '_on_enable', 'publish_diagnostics', '_on_set_parameters'} <= names
    assert [c.__name__ for c in own if not getattr(c, 'guarded', None)] == []
    assert getattr(node.process_frame, 'guarded', None)   # the worker's step


class Faulty:
    """MultiTargetTracker double (wrapping conftest's ScriptedTargets) with planted bugs: an
    init box 13 px wide raises, `clear` raises, a lost_threshold of 0.123 makes the config
    setter raise, and `bad_results` makes track() forget a target's result."""

    def __init__(self, targets):
        self._targets = targets
        self.bad_results = False

    @property
    def config(self):
        """The wrapped double's settings; assigning 0.123 as lost_threshold raises."""
        return self._targets.config

    @config.setter
    def config(self, config):
        if config.lost_threshold == 0.123:
            raise RuntimeError('config rejected by a bug')
        self._targets.config = config

    @property
    def max_targets(self):
        """The wrapped double's limit."""
        return self._targets.max_targets

    @max_targets.setter
    def max_targets(self, max_targets):
        self._targets.max_targets = max_targets

    @property
    def target_ids(self):
        """The wrapped double's ids."""
        return self._targets.target_ids

    @property
    def states(self):
        """The wrapped double's states."""
        return self._targets.states

    def add(self, frame, box_xywh):
        """Add a target, or raise for a box 13 px wide."""
        if box_xywh[2] == 13.0:
            raise RuntimeError('bug in add')
        return self._targets.add(frame, box_xywh)

    def remove(self, target_id):
        """Forget one target."""
        self._targets.remove(target_id)

    def clear(self):
        """Always raises."""
        raise RuntimeError('bug in clear')

    def track(self, frame):
        """Track, then drop every result while `bad_results` is set."""
        results = self._targets.track(frame)
        return {} if self.bad_results else results


def _box(cx, cy, w, h):
    box = BoundingBox2D(size_x=w, size_y=h)
    box.center.position.x, box.center.position.y = cx, cy
    return box


def test_failing_callbacks_are_reported_and_the_node_goes_on(tracker_rig, tracker_class,
                                                             targets_class, image_factory,
                                                             ros_session):
    faulty = Faulty(targets_class(tracker_class))
    node, probe = tracker_rig(faulty)
    stamp = iter(range(1, 1000))

    def frame():
        sec = next(stamp)
        probe.image_pub.publish(image_factory(sec, stamp_ns=sec * 10 ** 9))
        return probe.wait_status(lambda s: s.header.stamp.sec == sec)

    frame()
    probe.init_box_pub.publish(_box(25.0, 19.0, 10.0, 8.0))
    probe.wait_status(lambda s: s.message.startswith('initialised'))

    probe.init_box_pub.publish(_box(25.0, 19.0, 13.0, 8.0))
    failed = probe.wait_status(lambda s: s.message.startswith('~/init_box failed'))
    assert 'RuntimeError: bug in add' in failed.message
    assert (failed.target_id, failed.state) == ('1', TrackStatus.TRACKING)

    response = probe.call(probe.reset_client, Trigger.Request())
    assert not response.success and 'bug in clear' in response.message

    result = node.set_parameters([Parameter('lost_threshold', value=0.123)])[0]
    assert not result.successful and 'config rejected by a bug' in result.reason
    assert node.get_parameter('lost_threshold').value != 0.123

    faulty.bad_results = True
    broken = frame()
    assert broken.message.startswith('frame processing failed: KeyError')
    assert (broken.target_id, broken.state) == ('1', TrackStatus.TRACKING)

    faulty.bad_results = False
    after = frame()
    assert (after.target_id, after.state, after.message) == ('1', TrackStatus.TRACKING, '')
    assert ros_session._thread.is_alive() and node._worker._thread.is_alive()
