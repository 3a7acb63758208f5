"""Send the package's Python `logging` records to a node's ROS logger.

The model code logs with Python's `logging` (the factory's "no checkpoint configured" warning,
say). In a node process nothing configures Python logging, so such a record would reach the
terminal as a bare line without severity, time or node name, and never reach the ROS log files or
/rosout. `forward_to_ros` routes them through the node's rclpy logger instead. Python's own level
still decides what is emitted (warnings and above unless someone lowers it).
"""
import logging

PACKAGE_LOGGER = 'stt_tracker_ros'


class RosLogHandler(logging.Handler):
    """A logging handler that writes each record through an rclpy logger, same severity."""

    def __init__(self, ros_logger):
        """Write to `ros_logger` (e.g. `node.get_logger()`)."""
        super().__init__()
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        """Log the formatted record at the matching ROS severity."""
        try:
            text = self.format(record)
            # rclpy ties one severity to each logging call site, hence one call per severity.
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def forward_to_ros(ros_logger, name: str = PACKAGE_LOGGER) -> None:
    """From now on, write the records of Python logger `name` and its children to `ros_logger`.

    One handler per process: a later call (another node) takes over the existing handler.
    """
    python_logger = logging.getLogger(name)
    for handler in python_logger.handlers:
        if isinstance(handler, RosLogHandler):
            handler.ros_logger = ros_logger
            return
    python_logger.addHandler(RosLogHandler(ros_logger))
