"""What the node's inference worker does with one received frame.

Decode it, track every target in it at once and publish the results, all with the image's
header; or, when the frame gives no result, publish a status per target saying why (a bad image,
a frame the tracker refused, a failed tracking step), or an IDLE status while there is nothing
to track.
"""
from collections.abc import Callable

from stt_tracker_ros.ros.diagnostics import HealthMonitor
from stt_tracker_ros.ros.frame_cache import ReceivedFrame
from stt_tracker_ros.ros.image_decoding import ImageDecodeError, check_image
from stt_tracker_ros.ros.outputs import TargetResult, TrackerOutputs
from stt_tracker_ros.ros.parameters import NodeParameters
from stt_tracker_ros.ros.problem_log import ProblemLog
from stt_tracker_ros.ros.tracking_session import StepFailed, TrackingSession
from stt_tracker_ros.tracking.result import InvalidFrameError

IDLE_LOG_PERIOD_S = 60.0   # the "no target" line: once, then at most once a minute


class FrameProcessor:
    """Turns received frames into published results (called on the worker thread)."""

    def __init__(self, session: TrackingSession, outputs: TrackerOutputs, problems: ProblemLog,
                 health: HealthMonitor, params: Callable[[], NodeParameters], logger):
        """Track with `session`, publish on `outputs`, report problems to `problems`, count
        tracked frames in `health`; `params` gives the node's current parameters, `logger` is
        the node's rclpy logger."""
        self._session = session
        self._outputs = outputs
        self._problems = problems
        self._health = health
        self._params = params
        self._logger = logger

    def __call__(self, frame: ReceivedFrame) -> None:
        """Decode, track and publish one frame."""
        enabled, states = self._session.snapshot()
        if not (enabled and states):
            self._publish_idle(frame, enabled)
            return
        header, params = frame.msg.header, self._params()
        try:
            rgb = frame.decode()
            results = self._session.track(frame.seq, rgb)
        except (ImageDecodeError, InvalidFrameError) as error:
            kind = 'image' if isinstance(error, ImageDecodeError) else 'frame'
            self._problems.warn(kind, f'{kind} ignored: {error}')
            self._outputs.statuses(header, states, f'{kind} ignored: {error}', frame.age_ms())
            return
        except StepFailed as failure:
            self._problems.error('track', str(failure))
            self._outputs.statuses(header, failure.states, str(failure), frame.age_ms())
            return
        if not results:
            return   # reset or disabled meanwhile, or older than an init's frame
        latency_ms = frame.age_ms()
        tracked = [TargetResult(i, result, latency_ms) for i, result in results.items()]
        self._outputs.frame_results(header, tracked, params.class_id, params.publish_when_lost)
        self._health.frame_tracked(latency_ms)
        if self._outputs.wants_debug(params.debug_image):
            self._outputs.debug(header, rgb, tracked)

    def _publish_idle(self, frame: ReceivedFrame, enabled: bool) -> None:
        reason = ('no target: send a box on ~/init_box or ~/init' if enabled
                  else 'tracking disabled (call ~/enable to resume)')
        self._logger.info(f'{reason}; frames are not tracked',
                          throttle_duration_sec=IDLE_LOG_PERIOD_S)
        try:
            if not frame.compressed:
                check_image(frame.msg)
        except ImageDecodeError as error:
            self._problems.warn('image', f'image unusable: {error}')
            reason = f'{reason}; image unusable: {error}'
        self._outputs.idle(frame.msg.header, frame.age_ms(), reason)
        if self._outputs.wants_debug(self._params().debug_image):
            try:
                self._outputs.debug(frame.msg.header, frame.decode(), [])
            except ImageDecodeError:
                pass   # already reported in the status above
