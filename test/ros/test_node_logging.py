"""Log hygiene of the ROS processes: Python warnings as ROS log lines, the idle line once, and
plain text (no colour codes) in log files.

rclpy writes log lines to the process's stderr through rcutils (format
`[SEVERITY] [time] [logger]: message`), so `capfd` sees them.
"""
import logging
import re
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from stt_tracker_ros.ros import problem_log  # noqa: E402
from stt_tracker_ros.ros.demo import run as demo  # noqa: E402
from stt_tracker_ros.ros.python_logging import RosLogHandler, forward_to_ros  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 13


@pytest.fixture
def package_logger():
    """The package's Python logger, without RosLogHandlers again after the test."""
    logger = logging.getLogger('stt_tracker_ros')
    yield logger
    for handler in [h for h in logger.handlers if isinstance(h, RosLogHandler)]:
        logger.removeHandler(handler)


def ros_lines(text: str, severity: str, logger_name: str) -> list[str]:
    """The messages of rcutils lines of `severity` from `logger_name` in `text`."""
    pattern = rf'^\[{severity}\] \[\d+\.\d+\] \[{re.escape(logger_name)}\]: (.*)$'
    return re.findall(pattern, text, re.MULTILINE)


def test_python_records_become_ros_lines(package_logger, capfd):
    forward_to_ros(rclpy.logging.get_logger('first_bridge'))
    forward_to_ros(rclpy.logging.get_logger('bridge_test'))   # takes the handler over
    assert sum(isinstance(h, RosLogHandler) for h in package_logger.handlers) == 1
    child = logging.getLogger('stt_tracker_ros.tracking.factory')
    child.warning('no checkpoint %s', 'configured')
    child.error('a failure')
    child.info('below the Python level: not emitted')
    err = capfd.readouterr().err
    assert ros_lines(err, 'WARN', 'bridge_test') == ['no checkpoint configured']
    assert ros_lines(err, 'ERROR', 'bridge_test') == ['a failure']
    assert 'first_bridge' not in err and 'not emitted' not in err


def test_default_model_warning_is_the_nodes_ros_line(tracker_rig, package_logger, capfd):
    node, _ = tracker_rig(None, device='cpu')   # no checkpoint: the shipped default model
    err = capfd.readouterr().err
    (warning,) = ros_lines(err, 'WARN', node.get_logger().name)
    assert warning.startswith('no checkpoint configured: using the default model')
    assert not re.search('^no checkpoint configured', err, re.MULTILINE)   # no bare line


def test_idle_line_once_then_rarely(tracker_rig, scripted_tracker, image_factory, capfd):
    node, probe = tracker_rig(scripted_tracker)
    for index in (1, 2):
        probe.image_pub.publish(image_factory(index, stamp_ns=index * 10 ** 9))
        status = probe.wait_status(lambda s, sec=index: s.header.stamp.sec == sec)
        assert 'no target' in status.message   # every frame's status still says why
        time.sleep(problem_log.WARN_PERIOD_S + 0.5)   # longer than any problem's throttle
    idle = [line for line in ros_lines(capfd.readouterr().err, 'INFO', node.get_logger().name)
            if 'no target' in line]
    assert idle == ['no target: send a box on ~/init_box or ~/init; frames are not tracked']


def test_demo_node_logs_are_plain_text(tmp_path, monkeypatch):
    monkeypatch.setenv('RCUTILS_COLORIZED_OUTPUT', '1')   # what a user's shell may set
    log_path = tmp_path / 'tracker.log'
    process = demo.start('stt_tracker_ros.ros.tracker_node',
                         ['-p', 'image_reliability:=fast', '-p', 'random_weights:=true'],
                         log_path)
    assert process.wait(120) == 1
    text = log_path.read_text()
    assert '[FATAL]' in text and 'image_reliability' in text and '\x1b[' not in text
