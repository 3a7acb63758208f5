"""TrackResult / boxes <-> vision_msgs and TrackStatus messages."""
import math

import pytest

pytest.importorskip('rclpy')

from std_msgs.msg import Header  # noqa: E402
from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.conversions import (bbox_to_xywh, make_detection,  # noqa: E402
                                             make_detection_array, make_status, stamp_to_ns,
                                             xywh_to_bbox)
from stt_tracker_ros.tracking.result import TrackState  # noqa: E402

pytestmark = pytest.mark.ros


def header(sec: int = 12, nanosec: int = 345, frame_id: str = 'cam') -> Header:
    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def test_box_round_trip_uses_centre_and_full_size():
    bbox = xywh_to_bbox((10, 20, 30, 40))   # ints are accepted
    assert (bbox.center.position.x, bbox.center.position.y) == (25.0, 40.0)
    assert (bbox.size_x, bbox.size_y, bbox.center.theta) == (30.0, 40.0, 0.0)
    assert bbox_to_xywh(bbox) == pytest.approx((10.0, 20.0, 30.0, 40.0))


HALF_DIAGONAL = 20.0 * math.sqrt(2.0)


@pytest.mark.parametrize('size, theta, expected', [
    ((30.0, 10.0), math.pi / 2, (15.0, 5.0, 10.0, 30.0)),   # a quarter turn swaps w and h
    ((40.0, 40.0), math.pi / 4, (20.0 - HALF_DIAGONAL, 20.0 - HALF_DIAGONAL,
                                 2 * HALF_DIAGONAL, 2 * HALF_DIAGONAL)),
])
def test_rotated_box_becomes_its_axis_aligned_hull(size, theta, expected):
    bbox = BoundingBox2D(size_x=size[0], size_y=size[1])
    bbox.center.position.x, bbox.center.position.y = 20.0, 20.0
    bbox.center.theta = theta
    assert bbox_to_xywh(bbox) == pytest.approx(expected)


def test_invalid_boxes_pass_through_for_the_tracker_to_reject():
    bbox = BoundingBox2D(size_x=-5.0, size_y=math.nan)
    x, y, w, h = bbox_to_xywh(bbox)
    assert w == -5.0 and math.isnan(h)


def test_detection_fields():
    detection = make_detection(header(), (1, 2, 3, 4), 0.75, 'cup', '7')
    assert detection.header == header()
    assert detection.id == '7'
    (result,) = detection.results
    assert result.hypothesis.class_id == 'cup' and result.hypothesis.score == 0.75
    assert result.pose.pose.orientation.w == 1.0   # an untouched, valid pose
    assert bbox_to_xywh(detection.bbox) == pytest.approx((1.0, 2.0, 3.0, 4.0))


def test_detection_array_copies_header_and_may_be_empty():
    assert make_detection_array(header(), []).detections == []
    one = make_detection(header(), (1, 2, 3, 4), 0.5, 'x', '1')
    array = make_detection_array(header(frame_id='other'), [one])
    assert array.header.frame_id == 'other' and array.detections == [one]


@pytest.mark.parametrize('state, constant', [(TrackState.IDLE, TrackStatus.IDLE),
                                             (TrackState.TRACKING, TrackStatus.TRACKING),
                                             (TrackState.LOST, TrackStatus.LOST)])
def test_status_fields(state, constant):
    status = make_status(header(), '3', state, 0.25, True, 12.5, 4, 'hello')
    assert status.state == constant
    assert (status.target_id, status.template_updated, status.frames_dropped) == ('3', True, 4)
    assert status.confidence == pytest.approx(0.25) and status.latency_ms == pytest.approx(12.5)
    assert status.message == 'hello' and status.header == header()


def test_status_defaults_describe_no_target():
    status = make_status(header())
    assert (status.state, status.target_id, status.confidence) == (TrackStatus.IDLE, '', 0.0)


def test_stamp_to_ns_is_exact_for_large_stamps():
    assert stamp_to_ns(header(1_700_000_000, 999_999_999).stamp) == 1_700_000_000_999_999_999
