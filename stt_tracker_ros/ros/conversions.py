"""Tracker results to vision_msgs / TrackStatus messages and init messages to pixel boxes.

Pure functions: no node, no publishing. Boxes are (x, y, w, h) in image pixels with a top-left
origin on the tracker side and centre + full size (vision_msgs 4.x: `bbox.center.position`) on
the message side. rclpy's float64 setters reject ints, so every value is cast with float().
"""
import math

from std_msgs.msg import Header
from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesis,
                             ObjectHypothesisWithPose)

from stt_tracker_ros.msg import TrackStatus
from stt_tracker_ros.tracking.boxes import BoxXYWH
from stt_tracker_ros.tracking.result import TrackState


def stamp_to_ns(stamp) -> int:
    """builtin_interfaces/Time as integer nanoseconds (a dictionary key that compares exactly)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def xywh_to_bbox(box_xywh: BoxXYWH) -> BoundingBox2D:
    """Axis-aligned (x, y, w, h) pixel box to a BoundingBox2D (centre, full size, theta 0)."""
    x, y, w, h = (float(v) for v in box_xywh)
    bbox = BoundingBox2D()
    bbox.center.position.x = x + 0.5 * w
    bbox.center.position.y = y + 0.5 * h
    bbox.center.theta = 0.0
    bbox.size_x = w
    bbox.size_y = h
    return bbox


def bbox_to_xywh(bbox: BoundingBox2D) -> BoxXYWH:
    """BoundingBox2D to (x, y, w, h); a rotated box becomes its axis-aligned hull.

    Values are not validated here (NaN and negative sizes pass through) so that the tracker's
    own init-box check reports them.
    """
    cx, cy = bbox.center.position.x, bbox.center.position.y
    w, h, theta = bbox.size_x, bbox.size_y, bbox.center.theta
    if theta != 0.0 and math.isfinite(theta):
        c, s = abs(math.cos(theta)), abs(math.sin(theta))
        w, h = w * c + h * s, w * s + h * c
    return cx - 0.5 * w, cy - 0.5 * h, w, h


def make_detection(header: Header, box_xywh: BoxXYWH, confidence: float, class_id: str,
                   target_id: str) -> Detection2D:
    """One Detection2D: the image's header, the box, one hypothesis with the confidence.

    Args:
        header: header of the image the box belongs to (stamp and frame_id are copied).
        box_xywh: (x, y, w, h) in pixels.
        confidence: score-head confidence in [0, 1]; NaN from a model without a score head.
        class_id: label written to `results[0].hypothesis.class_id`.
        target_id: identity kept across messages, written to `id`.
    """
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis = ObjectHypothesis(class_id=class_id, score=float(confidence))
    detection = Detection2D()
    detection.header = header
    detection.bbox = xywh_to_bbox(box_xywh)
    detection.results = [hypothesis]
    detection.id = target_id
    return detection


def make_detection_array(header: Header, detections: list[Detection2D]) -> Detection2DArray:
    """Detection2DArray with the image's header; empty when no target is tracked."""
    return Detection2DArray(header=header, detections=list(detections))


def make_status(header: Header, target_id: str = '', state: TrackState = TrackState.IDLE,
                confidence: float = 0.0, template_updated: bool = False,
                latency_ms: float = 0.0, frames_dropped: int = 0,
                message: str = '', frames_lost_upstream: int = 0) -> TrackStatus:
    """TrackStatus for one frame or one rejected input.

    Args:
        header: header of the image concerned (or of the init message when there is none).
        target_id: current target's id, '' without a target.
        state: IDLE, TRACKING or LOST.
        confidence: score-head confidence in [0, 1]; 0.0 when nothing was tracked; NaN from a
            model without a score head.
        template_updated: the dynamic template was refreshed on this frame.
        latency_ms: image receipt to publication.
        frames_dropped: frames replaced by newer ones since start.
        message: '' when all is well, otherwise what went wrong.
        frames_lost_upstream: frames estimated lost before the node since start.
    """
    status = TrackStatus()
    status.header = header
    status.target_id = target_id
    status.state = int(state)
    status.confidence = float(confidence)
    status.template_updated = bool(template_updated)
    status.latency_ms = float(latency_ms)
    status.frames_dropped = int(frames_dropped)
    status.message = message
    status.frames_lost_upstream = int(frames_lost_upstream)
    return status
