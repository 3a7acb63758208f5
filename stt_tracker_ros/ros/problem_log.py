"""Problems the node meets: each counted on /diagnostics, logged at most once per period per kind.

A bad image at 30 Hz must not flood the log, and must not silence a bad init box either. rclpy's
own throttle (`throttle_duration_sec`) keeps one state per logger object and call site, so each
kind of problem gets a logger object of its own, all with the node's logger name: the lines
look like the node's others, and every kind has its own period.
"""
import rclpy.logging
from rclpy.logging import LoggingSeverity

from stt_tracker_ros.ros.diagnostics import HealthMonitor

WARN_PERIOD_S = 5.0   # one log line per kind of problem per period


class ProblemLog:
    """Reports rejected input (`warn`) and failures (`error`) of one node."""

    def __init__(self, logger_name: str, health: HealthMonitor):
        """Log as `logger_name` (the node's logger's name); count every problem in `health`."""
        self._name = logger_name
        self._health = health
        self._loggers: dict[tuple[str, LoggingSeverity], object] = {}

    def warn(self, kind: str, text: str) -> None:
        """Input was rejected (a bad image, box, stamp, ...): a warning, throttled per kind."""
        self._health.problem(text, failure=False)
        self._log(kind, text, LoggingSeverity.WARN)

    def error(self, kind: str, text: str) -> None:
        """A tracking step or a callback failed: an error, throttled per kind."""
        self._health.problem(text, failure=True)
        self._log(kind, text, LoggingSeverity.ERROR)

    def _log(self, kind: str, text: str, severity: LoggingSeverity) -> None:
        # rclpy also ties one severity to each logger object and call site.
        logger = self._loggers.setdefault((kind, severity), rclpy.logging.get_logger(self._name))
        logger.log(text, severity, throttle_duration_sec=WARN_PERIOD_S)
