"""Several targets in the stt_tracker node over real DDS: ids, replacement, removal, reset.

The node gets a conftest.ScriptedTargets double (one ScriptedTracker per target, each moving its
box by (2, 1) pixels per frame), so the expected box of every target on every frame is known.
"""
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 8
BOXES = {'1': (4.0, 6.0, 10.0, 8.0), '2': (30.0, 20.0, 12.0, 9.0), '3': (40.0, 5.0, 6.0, 6.0)}


def bbox(x: float, y: float, w: float, h: float) -> BoundingBox2D:
    box = BoundingBox2D(size_x=w, size_y=h)
    box.center.position.x, box.center.position.y = x + w / 2, y + h / 2
    return box


def send_frame(probe, image_factory, index: int, **kwargs):
    """Publish frame `index` (stamped `index` s) and return the detection array of its stamp."""
    probe.image_pub.publish(image_factory(index, stamp_ns=index * 10 ** 9, **kwargs))
    probe.wait_status(lambda s: s.header.stamp.sec == index)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        arrays = [a for a in probe.messages('detections') if a.header.stamp.sec == index]
        if arrays:
            return arrays[0]
        time.sleep(0.01)
    raise AssertionError(f'no detection array for frame {index}')


def init(probe, target_id: str) -> TrackStatus:
    """Send BOXES[target_id] on ~/init_box and wait for its 'initialised' status."""
    probe.init_box_pub.publish(bbox(*BOXES[target_id]))
    return probe.wait_status(lambda s: s.message.startswith('initialised')
                             and s.target_id == target_id)


def statuses_of(probe, second: int) -> dict[str, TrackStatus]:
    return {s.target_id: s for s in probe.messages('status') if s.header.stamp.sec == second}


def centres(array) -> dict[str, tuple[float, float]]:
    return {d.id: (d.bbox.center.position.x, d.bbox.center.position.y) for d in array.detections}


def expected_centre(target_id: str, steps: int) -> tuple[float, float]:
    x, y, w, h = BOXES[target_id]
    return pytest.approx((x + w / 2 + 2.0 * steps, y + h / 2 + 1.0 * steps))


def test_targets_are_added_replaced_and_removed(tracker_rig, tracker_class, targets_class,
                                                image_factory, wait_until):
    targets = targets_class(tracker_class)
    node, probe = tracker_rig(targets, max_targets=2)
    send_frame(probe, image_factory, 1)
    init(probe, '1')
    init(probe, '2')
    array = send_frame(probe, image_factory, 2, frame_id='cam_optical')
    assert array.header.frame_id == 'cam_optical' and array.header.stamp.sec == 2
    assert centres(array) == {'1': expected_centre('1', 1), '2': expected_centre('2', 1)}
    assert wait_until(lambda: set(statuses_of(probe, 2)) == {'1', '2'})
    assert wait_until(lambda: sorted(d.id for d in probe.messages('detection')
                                     if d.header.stamp.sec == 2) == ['1', '2'])

    init(probe, '3')   # a third init replaces the oldest target
    assert targets.target_ids == ['2', '3']
    assert set(centres(send_frame(probe, image_factory, 3))) == {'2', '3'}

    probe.remove_pub.publish(String(data='2'))
    assert probe.wait_status(lambda s: s.message == 'target 2 removed').target_id == '2'
    assert centres(send_frame(probe, image_factory, 4)) == {'3': expected_centre('3', 2)}

    probe.remove_pub.publish(String(data='9'))
    unknown = probe.wait_status(lambda s: 'no target' in s.message and s.target_id == '9')
    assert 'remove_target ignored' in unknown.message and '3' in unknown.message
    assert centres(send_frame(probe, image_factory, 5)) == {'3': expected_centre('3', 3)}
    assert targets.target_ids == ['3']


def test_one_target_at_a_time_by_default(tracker_rig, tracker_class, targets_class,
                                         image_factory):
    targets = targets_class(tracker_class)
    node, probe = tracker_rig(targets)
    send_frame(probe, image_factory, 1)
    init(probe, '1')
    init(probe, '2')
    assert targets.target_ids == ['2']
    assert centres(send_frame(probe, image_factory, 2)) == {'2': expected_centre('2', 1)}


def test_bad_frame_and_reset_apply_to_every_target(tracker_rig, tracker_class, targets_class,
                                                   image_factory, wait_until):
    targets = targets_class(tracker_class)
    node, probe = tracker_rig(targets, max_targets=3)
    send_frame(probe, image_factory, 1)
    init(probe, '1')
    init(probe, '2')
    send_frame(probe, image_factory, 2)
    probe.image_pub.publish(image_factory(3, width=32, stamp_ns=3 * 10 ** 9))   # size change
    assert wait_until(lambda: set(statuses_of(probe, 3)) == {'1', '2'})
    assert all('frame ignored' in s.message for s in statuses_of(probe, 3).values())
    array = send_frame(probe, image_factory, 4)
    assert centres(array) == {'1': expected_centre('1', 2), '2': expected_centre('2', 2)}

    response = probe.call(probe.reset_client, Trigger.Request())
    assert response.success and response.message == 'target 1, 2 forgotten'
    assert targets.target_ids == []
    assert send_frame(probe, image_factory, 5).detections == []
    idle = statuses_of(probe, 5)
    assert list(idle) == [''] and idle[''].state == TrackStatus.IDLE
