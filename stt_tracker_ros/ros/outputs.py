"""The tracker node's publishers and what goes out on them for each kind of event.

Every message copies the header of the image it concerns. ~/detections carries one entry per
TRACKING target (LOST ones too with `publish_when_lost`; none while idle), ~/detection one
message per such target, ~/status one message per target and frame, and one for every rejected
input.
"""
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray

from stt_tracker_ros.msg import TrackStatus
from stt_tracker_ros.ros.conversions import make_detection, make_detection_array, make_status
from stt_tracker_ros.ros.debug_overlay import draw_overlay
from stt_tracker_ros.ros.image_decoding import rgb_to_image_fields
from stt_tracker_ros.tracking.result import TrackResult, TrackState


@dataclass(frozen=True)
class TargetResult:
    """One target's result on one frame."""

    target_id: str
    result: TrackResult
    latency_ms: float


class TrackerOutputs:
    """Publishers of ~/detection, ~/detections, ~/status and ~/debug_image."""

    def __init__(self, node: Node, frames_dropped: Callable[[], int],
                 lost_upstream: Callable[[], int] = lambda: 0):
        """Create the publishers on `node` (reliable; the debug image keeps only the last).

        `frames_dropped` gives the frames replaced by newer ones in the node so far, and
        `lost_upstream` those estimated lost before it, for every status.
        """
        self._frames_dropped = frames_dropped
        self._lost_upstream = lost_upstream
        self._detection = node.create_publisher(Detection2D, '~/detection', 10)
        self._detections = node.create_publisher(Detection2DArray, '~/detections', 10)
        self._status = node.create_publisher(TrackStatus, '~/status', 10)
        self._debug = node.create_publisher(Image, '~/debug_image', 1)

    def status_subscribers(self) -> int:
        """Matched subscriptions of ~/status."""
        return self._status.get_subscription_count()

    def wants_debug(self, always: bool) -> bool:
        """Draw the debug image? Only when asked to, or when someone listens."""
        return always or self._debug.get_subscription_count() > 0

    def frame_results(self, header: Header, results: list[TargetResult], class_id: str,
                      publish_when_lost: bool) -> None:
        """Publish one processed frame: detections, the array and a status per target."""
        frames_dropped = self._frames_dropped()
        detections = [
            make_detection(header, r.result.box_xywh, r.result.confidence, class_id,
                           r.target_id)
            for r in results
            if r.result.state == TrackState.TRACKING or publish_when_lost]
        for detection in detections:
            self._detection.publish(detection)
        self._detections.publish(make_detection_array(header, detections))
        for r in results:
            self._status.publish(make_status(
                header, r.target_id, r.result.state, r.result.confidence,
                r.result.template_updated, r.latency_ms, frames_dropped,
                frames_lost_upstream=self._lost_upstream()))

    def idle(self, header: Header, latency_ms: float, message: str) -> None:
        """A frame seen without tracking: an empty array and an IDLE status saying why."""
        self._detections.publish(make_detection_array(header, []))
        self.status(header, '', TrackState.IDLE, message, latency_ms)

    def status(self, header: Header, target_id: str, state: TrackState, message: str,
               latency_ms: float = 0.0) -> None:
        """A status without a new result (rejected input, reset, ...)."""
        self._status.publish(make_status(header, target_id, state, latency_ms=latency_ms,
                                         frames_dropped=self._frames_dropped(), message=message,
                                         frames_lost_upstream=self._lost_upstream()))

    def statuses(self, header: Header, states: Mapping[str, TrackState], message: str,
                 latency_ms: float = 0.0) -> None:
        """`status` for every target with its state, or one IDLE status when there is none."""
        for target_id, state in (states or {'': TrackState.IDLE}).items():
            self.status(header, target_id, state, message, latency_ms)

    def initialised(self, header: Header, target_id: str, box_xywh, class_id: str,
                    source: str, warning: str = '') -> None:
        """The init frame's result: the given box with confidence 1 (and `warning`, if any,
        in the status's message)."""
        self._detection.publish(make_detection(header, box_xywh, 1.0, class_id, target_id))
        self._status.publish(make_status(header, target_id, TrackState.TRACKING, 1.0,
                                         frames_dropped=self._frames_dropped(),
                                         message='; '.join(filter(None, (
                                             f'initialised from {source}', warning))),
                                         frames_lost_upstream=self._lost_upstream()))

    def debug(self, header: Header, rgb, results: list[TargetResult]) -> None:
        """Draw the frame's results (or just the frame) and publish it as rgb8."""
        drawn = rgb
        for r in results:
            drawn = draw_overlay(drawn, r.result.box_xywh, r.result.state, r.result.confidence,
                                 r.target_id, f'dropped {self._frames_dropped()}')
        if not results:
            drawn = draw_overlay(rgb)
        self._debug.publish(Image(header=header, **rgb_to_image_fields(drawn)))
