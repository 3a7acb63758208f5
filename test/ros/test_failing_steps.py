"""A tracking step that fails frame after frame does not go on saying TRACKING: after
`lost_patience` failures in a row the target is LOST, and the first good step brings it back."""
import pytest

rclpy = pytest.importorskip('rclpy')

from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 13


def test_repeated_failures_make_the_target_lost(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker, lost_patience=2)

    def frame(sec: int, fail: bool):
        if fail:
            scripted_tracker.fail_with = RuntimeError('out of memory')
        probe.image_pub.publish(image_factory(sec, stamp_ns=sec * 10 ** 9))
        return probe.wait_status(lambda s: s.header.stamp.sec == sec)

    frame(1, fail=False)
    box = BoundingBox2D(size_x=10.0, size_y=8.0)
    box.center.position.x, box.center.position.y = 25.0, 19.0
    probe.init_box_pub.publish(box)
    probe.wait_status(lambda s: s.message.startswith('initialised'))

    first, second, third = (frame(sec, fail=True) for sec in (2, 3, 4))
    assert first.state == TrackStatus.TRACKING and 'tracking failed' in first.message
    assert (second.state, third.state) == (TrackStatus.LOST, TrackStatus.LOST)
    assert 'RuntimeError: out of memory' in third.message and third.target_id == '1'
    assert not [d for d in probe.messages('detection') if d.header.stamp.sec in (2, 3, 4)]

    recovered = frame(5, fail=False)
    assert (recovered.state, recovered.message) == (TrackStatus.TRACKING, '')
    once_more = frame(6, fail=True)   # the count starts again after a good step
    assert once_more.state == TrackStatus.TRACKING
