"""An init box mostly outside the image is accepted, with a warning in the status and the log.

The README's example box (centre 320, 240, size 80 x 60: the middle of a 640x480 image) lies 75 %
outside a 320x240 image. It is a valid box, and it is tracked, but it is most likely meant for
another image size, so the user hears about it.
"""
import re

import pytest

rclpy = pytest.importorskip('rclpy')

from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.target_requests import MIN_INSIDE, outside_warning  # noqa: E402
from stt_tracker_ros.tracking.boxes import inside_fraction  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 17
README_BOX = (280.0, 210.0, 80.0, 60.0)   # x, y, w, h of the README's example box


def test_inside_fraction_of_a_box():
    assert inside_fraction(README_BOX, 240, 320) == 0.25
    assert inside_fraction(README_BOX, 480, 640) == 1.0
    assert inside_fraction((-10.0, 5.0, 20.0, 10.0), 240, 320) == 0.5
    assert inside_fraction((-30.0, -30.0, 40.0, 40.0), 240, 320) == 0.0625


def test_warning_below_half_inside():
    assert outside_warning(README_BOX, 240, 320) == (
        'warning: 75 % of the box lies outside the 320x240 image (is it meant for another '
        'image size?)')
    assert MIN_INSIDE == 0.5 and outside_warning((-10.0, 5.0, 20.0, 10.0), 240, 320) == ''
    assert outside_warning(README_BOX, 480, 640) == ''


def bbox(x: float, y: float, w: float, h: float) -> BoundingBox2D:
    box = BoundingBox2D(size_x=w, size_y=h)
    box.center.position.x, box.center.position.y = x + w / 2, y + h / 2
    return box


def test_readme_box_on_a_small_image_is_tracked_with_a_warning(tracker_rig, scripted_tracker,
                                                               image_factory, capfd):
    node, probe = tracker_rig(scripted_tracker)
    probe.image_pub.publish(image_factory(1, 320, 240, stamp_ns=10 ** 9))
    probe.wait_status(lambda s: s.header.stamp.sec == 1)
    probe.init_box_pub.publish(bbox(*README_BOX))
    init = probe.wait_status(lambda s: s.message.startswith('initialised'))
    assert init.message == ('initialised from ~/init_box; warning: 75 % of the box lies outside '
                            'the 320x240 image (is it meant for another image size?)')
    assert (init.target_id, init.state) == ('1', TrackStatus.TRACKING)
    warnings = re.findall(rf'^\[WARN\] \[[\d.]+\] \[{re.escape(node.get_logger().name)}\]: (.*)$',
                          capfd.readouterr().err, re.MULTILINE)
    assert warnings == [f'target 1: {init.message.split("; ")[1]}']

    probe.image_pub.publish(image_factory(2, 320, 240, stamp_ns=2 * 10 ** 9))
    tracked = probe.wait_status(lambda s: s.header.stamp.sec == 2)
    assert (tracked.target_id, tracked.state, tracked.message) == ('1', TrackStatus.TRACKING, '')

    probe.init_box_pub.publish(bbox(-10.0, 5.0, 20.0, 10.0))   # half inside: no warning
    second = probe.wait_status(lambda s: s.target_id == '2')
    assert second.message == 'initialised from ~/init_box'
