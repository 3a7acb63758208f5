"""Problems are counted on /diagnostics every time and logged at most once a period per kind."""
import re

import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from stt_tracker_ros.ros.diagnostics import HealthMonitor  # noqa: E402
from stt_tracker_ros.ros.problem_log import ProblemLog  # noqa: E402

pytestmark = pytest.mark.ros
LOGGER = 'problem_log_test'


def lines(text: str, severity: str) -> list[str]:
    """The messages of the rcutils lines of `severity` from LOGGER in `text`."""
    return re.findall(rf'^\[{severity}\] \[\d+\.\d+\] \[{LOGGER}\]: (.*)$', text, re.MULTILINE)


def test_each_kind_is_throttled_on_its_own_and_every_problem_counts(capfd):
    health = HealthMonitor('n: tracking', 'cpu', '/image', {}, stale_after_s=60.0)
    problems = ProblemLog(LOGGER, health)
    for _ in range(3):
        problems.warn('image', 'image ignored: unsupported encoding')
        problems.warn('init_box', 'init rejected: init box is too small')
    assert lines(capfd.readouterr().err, 'WARN') == ['image ignored: unsupported encoding',
                                                     'init rejected: init box is too small']
    report = health.report({}, True, 0)
    assert (report.level, report.message) == (
        DiagnosticStatus.WARN, '6 input(s) rejected: init rejected: init box is too small')

    problems.error('track', 'tracking failed: RuntimeError: device lost')
    problems.error('track', 'tracking failed: RuntimeError: device lost')
    problems.warn('image', 'image ignored: unsupported encoding')   # still in its period
    err = capfd.readouterr().err
    assert lines(err, 'ERROR') == ['tracking failed: RuntimeError: device lost']
    assert lines(err, 'WARN') == []
    report = health.report({}, True, 0)
    assert (report.level, report.message) == (
        DiagnosticStatus.ERROR, '2 tracking step(s) failed: image ignored: unsupported encoding')
