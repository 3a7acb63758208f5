"""Requests that change the targets: start one from an init box, remove one, forget all.

`~/init_box` puts its box on the newest frame, `~/init` on the cached frame its stamp names (the
newest when unstamped). That frame is decoded and the tracker adds the target, replacing the
oldest beyond `max_targets`; the init's result goes out with the frame's header. A rejection (no
frame yet, none with that stamp, an unusable image, a bad box) changes no target and is answered
with a throttled warning and a status that says why. A box mostly outside the image (less than
MIN_INSIDE of its area inside) is accepted, with a warning in the log and the init's status: it
is usually a box meant for another image size. Removals and resets are logged and answered with
a status on the newest frame's header.
"""
from collections.abc import Callable

from std_msgs.msg import Header

from stt_tracker_ros.ros.conversions import stamp_to_ns
from stt_tracker_ros.ros.frame_cache import FrameCache, StampNotCached
from stt_tracker_ros.ros.image_decoding import ImageDecodeError
from stt_tracker_ros.ros.outputs import TrackerOutputs
from stt_tracker_ros.ros.parameters import NodeParameters
from stt_tracker_ros.ros.problem_log import ProblemLog
from stt_tracker_ros.ros.tracking_session import TrackingSession
from stt_tracker_ros.tracking.boxes import inside_fraction
from stt_tracker_ros.tracking.result import InvalidBoxError, InvalidFrameError, TrackState

MIN_INSIDE = 0.5   # an accepted init box with less of its area inside the image gets a warning


def outside_warning(box_xywh, height: int, width: int) -> str:
    """A warning for a valid box mostly outside a `width` x `height` image, else ''."""
    inside = inside_fraction(box_xywh, height, width)
    if inside >= MIN_INSIDE:
        return ''
    return (f'warning: {100 * (1 - inside):.0f} % of the box lies outside the {width}x{height} '
            'image (is it meant for another image size?)')


class TargetRequests:
    """Carries out the node's target requests (called on the executor's control callbacks)."""

    def __init__(self, session: TrackingSession, frames: FrameCache, outputs: TrackerOutputs,
                 problems: ProblemLog, params: Callable[[], NodeParameters], logger,
                 image_topic: str):
        """Add targets through `session` on frames of `frames`; publish on `outputs`, report
        rejections to `problems`; `params` gives the node's current parameters, `logger` is the
        node's rclpy logger, `image_topic` is named when no image came yet."""
        self._session = session
        self._frames = frames
        self._outputs = outputs
        self._problems = problems
        self._params = params
        self._logger = logger
        self._image_topic = image_topic

    def start(self, box_xywh, source: str, init_header: Header | None = None) -> None:
        """Start a target on `box_xywh` (x, y, w, h pixels) from `source` ('~/init_box', ...).

        Args:
            box_xywh: the box, as the message gave it (validated by the tracker).
            source: the topic the box came on, named in the log and the status.
            init_header: the init message's header, whose stamp picks the cached frame (see
                FrameCache.for_stamp); None puts the box on the newest frame.
        """
        try:
            frame = (self._frames.newest() if init_header is None else self._frames.for_stamp(
                stamp_to_ns(init_header.stamp), self._params().init_stamp_tolerance))
        except StampNotCached as error:
            self._reject(init_header, 'stamp', f'init rejected: {error}')
            return
        if frame is None:
            self._reject(init_header or Header(), 'no_image',
                         f'init rejected: no image received yet on {self._image_topic}')
            return
        try:
            rgb = frame.decode()
            target_id, replaced = self._session.add(frame.seq, rgb, box_xywh)
        except ImageDecodeError as error:
            self._reject(frame.msg.header, 'image', f'init rejected: image unusable: {error}')
            return
        except (InvalidBoxError, InvalidFrameError) as error:
            self._reject(frame.msg.header, 'box', f'init rejected: {error}')
            return
        self._logger.info(f'target {target_id} initialised from {source} on box '
                          f'{tuple(round(float(v), 1) for v in box_xywh)}'
                          + (f', replacing {", ".join(replaced)}' if replaced else ''))
        warning = outside_warning(box_xywh, *rgb.shape[:2])
        if warning:
            self._logger.warning(f'target {target_id}: {warning}')
        self._outputs.initialised(frame.msg.header, target_id, box_xywh,
                                  self._params().class_id, source, warning)

    def remove(self, target_id: str) -> None:
        """Forget the target `target_id`; an unknown id gets a warning."""
        removed, remaining = self._session.remove(target_id)
        if removed:
            message = f'target {target_id} removed'
            self._logger.info(message)
        else:
            message = (f'remove_target ignored: no target {target_id!r} (targets: '
                       f'{", ".join(remaining) or "none"})')
            self._problems.warn('remove', message)
        self._outputs.status(self._frames.newest_header(), target_id, TrackState.IDLE, message)

    def reset(self) -> str:
        """Forget every target; returns what was forgotten, in words."""
        forgotten = self._session.clear()
        message = (f'target {", ".join(forgotten)} forgotten' if forgotten
                   else 'no target to forget')
        self._logger.info(message)
        self._outputs.status(self._frames.newest_header(), '', TrackState.IDLE,
                             'reset: ' + message)
        return message

    def _reject(self, header: Header, kind: str, message: str) -> None:
        """Warn, and publish a status with the first target's id and state (IDLE without)."""
        self._problems.warn('init_' + kind, message)
        target_id, state = next(iter(self._session.states().items()), ('', TrackState.IDLE))
        self._outputs.status(header, target_id, state, message)
