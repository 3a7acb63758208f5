"""The stt_tracker node over real DDS: outputs, init by box and by stamp, reset, enable, QoS.

A fast tracker double (conftest.ScriptedTracker) stands in for STARK; it moves the box by a
known step per frame and records which frames it saw (each test frame is filled with its own
marker value), so every assertion is about what the node did with the messages.
"""
import math

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402
from vision_msgs.msg import BoundingBox2D, Detection2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 1
BASE_NS = 1_700_000_000 * 1_000_000_000


def stamp_ns(index: int) -> int:
    """Stamp of test frame `index`: 33 ms apart, far from zero."""
    return BASE_NS + index * 33_000_000


def ns_of(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def bbox(cx: float, cy: float, w: float, h: float) -> BoundingBox2D:
    box = BoundingBox2D()
    box.center.position.x, box.center.position.y = float(cx), float(cy)
    box.size_x, box.size_y = float(w), float(h)
    return box


def send_frame(probe, image_factory, index: int, **kwargs):
    """Publish frame `index` and wait for the status carrying its stamp."""
    probe.image_pub.publish(image_factory(index, stamp_ns=stamp_ns(index), **kwargs))
    return probe.wait_status(lambda s: ns_of(s.header) == stamp_ns(index))


def start_tracking(probe, image_factory, box=(20.0, 15.0, 10.0, 8.0)):
    """Frame 1, then an init box (x, y, w, h) on it; returns the init status."""
    send_frame(probe, image_factory, 1)
    x, y, w, h = box
    probe.init_box_pub.publish(bbox(x + w / 2, y + h / 2, w, h))
    return probe.wait_status(lambda s: s.message.startswith('initialised'))


def test_outputs_carry_the_image_header(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker, class_id='cup')
    assert isinstance(node.executor, MultiThreadedExecutor)   # as tracker_node.main spins it
    idle = send_frame(probe, image_factory, 1)
    assert idle.state == TrackStatus.IDLE and 'no target' in idle.message
    assert probe.wait_count('detections', 1)[0].detections == []

    probe.init_box_pub.publish(bbox(25.0, 19.0, 10.0, 8.0))
    init = probe.wait_status(lambda s: s.message.startswith('initialised'))
    assert (init.target_id, init.state) == ('1', TrackStatus.TRACKING)
    assert ns_of(init.header) == stamp_ns(1)
    assert scripted_tracker.init_markers == [1]

    for index in (2, 3, 4):
        status = send_frame(probe, image_factory, index, frame_id='cam_optical')
        assert status.header.frame_id == 'cam_optical'
        assert status.state == TrackStatus.TRACKING and status.message == ''
        assert status.confidence == pytest.approx(0.9) and status.latency_ms > 0.0
    probe.wait_count('detection', 4)
    tracked = [d for d in probe.messages('detection') if ns_of(d.header) > stamp_ns(1)]
    assert [ns_of(d.header) for d in tracked] == [stamp_ns(i) for i in (2, 3, 4)]
    for step, detection in enumerate(tracked, start=1):
        assert detection.header.frame_id == 'cam_optical' and detection.id == '1'
        assert detection.bbox.center.position.x == pytest.approx(25.0 + 2.0 * step)
        assert detection.bbox.center.position.y == pytest.approx(19.0 + 1.0 * step)
        assert (detection.bbox.size_x, detection.bbox.size_y) == (10.0, 8.0)
        assert detection.results[0].hypothesis.class_id == 'cup'
        assert detection.results[0].hypothesis.score == pytest.approx(0.9)
    arrays = [a for a in probe.messages('detections') if ns_of(a.header) > stamp_ns(1)]
    assert [len(a.detections) for a in arrays] == [1, 1, 1]
    assert arrays[-1].detections[0].bbox == tracked[-1].bbox
    assert scripted_tracker.tracked_markers == [2, 3, 4]


def test_init_picks_the_cached_frame_by_stamp(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker)
    for index in range(1, 6):
        send_frame(probe, image_factory, index)
    request = Detection2D()
    request.header.stamp.sec, request.header.stamp.nanosec = divmod(stamp_ns(2), 10 ** 9)
    request.bbox = bbox(30.0, 20.0, 12.0, 10.0)
    probe.init_pub.publish(request)
    init = probe.wait_status(lambda s: s.message == 'initialised from ~/init')
    assert scripted_tracker.init_markers == [2] and ns_of(init.header) == stamp_ns(2)
    send_frame(probe, image_factory, 6)
    assert scripted_tracker.tracked_markers == [6]   # then the newest frame, not 3..5

    request.header.stamp.sec += 60   # a minute later than anything cached
    probe.init_pub.publish(request)
    rejected = probe.wait_status(lambda s: 'no cached frame' in s.message)
    assert rejected.target_id == '1' and rejected.state == TrackStatus.TRACKING

    unstamped = Detection2D()
    unstamped.bbox = bbox(30.0, 20.0, 12.0, 10.0)
    probe.init_pub.publish(unstamped)
    second = probe.wait_status(lambda s: s.target_id == '2')
    assert second.message == 'initialised from ~/init' and ns_of(second.header) == stamp_ns(6)
    assert scripted_tracker.init_markers == [2, 6]


def test_init_before_any_image_is_reported(tracker_rig, scripted_tracker):
    node, probe = tracker_rig(scripted_tracker)
    probe.init_box_pub.publish(bbox(20.0, 20.0, 10.0, 10.0))
    status = probe.wait_status(lambda s: 'no image received yet' in s.message)
    assert status.state == TrackStatus.IDLE and status.target_id == ''
    assert scripted_tracker.init_markers == []


@pytest.mark.parametrize('box, reason', [
    ((200.0, 20.0, 10.0, 10.0), 'outside'),
    ((20.0, 20.0, 0.0, 10.0), 'positive size'),
    ((20.0, 20.0, 10.0, -4.0), 'positive size'),
    ((math.nan, 20.0, 10.0, 10.0), 'NaN'),
])
def test_bad_init_box_leaves_the_track_alone(tracker_rig, scripted_tracker, image_factory, box,
                                             reason):
    node, probe = tracker_rig(scripted_tracker)
    start_tracking(probe, image_factory)
    send_frame(probe, image_factory, 2)
    before = scripted_tracker.box
    x, y, w, h = box
    probe.init_box_pub.publish(bbox(x + w / 2, y + h / 2, w, h))
    status = probe.wait_status(lambda s: s.message.startswith('init rejected'))
    assert reason in status.message
    assert (status.target_id, status.state) == ('1', TrackStatus.TRACKING)
    after = send_frame(probe, image_factory, 3)
    assert (after.target_id, after.state, after.message) == ('1', TrackStatus.TRACKING, '')
    assert scripted_tracker.box[0] == pytest.approx(before[0] + 2.0)
    assert scripted_tracker.init_markers == [1]


@pytest.mark.parametrize('kwargs, reason', [
    ({'encoding': 'yuv999'}, 'unsupported encoding'),
    ({'width': 0}, 'zero size'),
    ({'width': 80, 'height': 60}, 'frame size changed'),
    ({'truncate': True}, 'data length'),
])
def test_bad_image_is_reported_and_skipped(tracker_rig, scripted_tracker, image_factory,
                                           kwargs, reason):
    node, probe = tracker_rig(scripted_tracker)
    start_tracking(probe, image_factory)
    truncate = kwargs.pop('truncate', False)
    bad = image_factory(7, stamp_ns=stamp_ns(2), **kwargs)
    if truncate:
        bad.data = bytes(bad.data)[:-5]
    probe.image_pub.publish(bad)
    status = probe.wait_status(lambda s: ns_of(s.header) == stamp_ns(2))
    assert reason in status.message and 'ignored' in status.message
    assert (status.target_id, status.state) == ('1', TrackStatus.TRACKING)
    assert not [d for d in probe.messages('detection') if ns_of(d.header) == stamp_ns(2)]
    after = send_frame(probe, image_factory, 3)
    assert (after.target_id, after.state, after.message) == ('1', TrackStatus.TRACKING, '')
    assert scripted_tracker.tracked_markers == [3]


def test_unexpected_tracker_error_is_reported_and_survived(tracker_rig, scripted_tracker,
                                                           image_factory):
    node, probe = tracker_rig(scripted_tracker)
    start_tracking(probe, image_factory)
    scripted_tracker.fail_with = RuntimeError('CUDA error: device lost')
    failed = send_frame(probe, image_factory, 2)
    assert 'tracking failed' in failed.message and 'device lost' in failed.message
    assert (failed.target_id, failed.state) == ('1', TrackStatus.TRACKING)
    after = send_frame(probe, image_factory, 3)
    assert (after.target_id, after.state, after.message) == ('1', TrackStatus.TRACKING, '')


def test_bad_image_before_init_is_reported(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker)
    status = send_frame(probe, image_factory, 1, encoding='yuv999')
    assert status.state == TrackStatus.IDLE
    assert 'no target' in status.message and 'unsupported encoding' in status.message
    probe.init_box_pub.publish(bbox(20.0, 20.0, 10.0, 10.0))
    rejected = probe.wait_status(lambda s: s.message.startswith('init rejected'))
    assert 'unsupported encoding' in rejected.message and rejected.state == TrackStatus.IDLE


def test_reset_forgets_the_target(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker)
    start_tracking(probe, image_factory)
    response = probe.call(probe.reset_client, Trigger.Request())
    assert response.success and '1' in response.message
    probe.wait_status(lambda s: s.message.startswith('reset'))
    status = send_frame(probe, image_factory, 2)
    assert status.state == TrackStatus.IDLE and status.target_id == ''
    assert scripted_tracker.state == scripted_tracker.state.IDLE
    assert not [d for d in probe.messages('detection') if ns_of(d.header) == stamp_ns(2)]
    again = probe.call(probe.reset_client, Trigger.Request())
    assert again.success and again.message == 'no target to forget'
    probe.init_box_pub.publish(bbox(25.0, 19.0, 10.0, 8.0))
    assert probe.wait_status(lambda s: s.message.startswith('initialised')
                             and s.target_id == '2')


def test_enable_stops_and_resumes_tracking(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker)
    start_tracking(probe, image_factory)
    assert probe.call(probe.enable_client, SetBool.Request(data=False)).success
    paused = send_frame(probe, image_factory, 2)
    assert paused.state == TrackStatus.IDLE and 'disabled' in paused.message
    assert scripted_tracker.tracked_markers == []
    assert probe.call(probe.enable_client, SetBool.Request(data=True)).success
    resumed = send_frame(probe, image_factory, 3)
    assert (resumed.target_id, resumed.state) == ('1', TrackStatus.TRACKING)
    assert scripted_tracker.tracked_markers == [3]


@pytest.mark.parametrize('publisher_reliability', ['best_effort', 'reliable'])
def test_default_subscription_accepts_both_reliabilities(tracker_rig, scripted_tracker,
                                                         image_factory, publisher_reliability):
    node, probe = tracker_rig(scripted_tracker, probe_reliability=publisher_reliability)
    status = send_frame(probe, image_factory, 1)
    assert status.state == TrackStatus.IDLE


def test_reliable_subscription_ignores_best_effort_publishers(tracker_rig, scripted_tracker,
                                                              wait_until):
    node, probe = tracker_rig(scripted_tracker, probe_reliability='best_effort',
                              image_reliability='reliable', connect_image=False)
    # Incompatible QoS: DDS never matches the pair, so the image publisher sees no subscriber.
    assert not wait_until(lambda: probe.image_pub.get_subscription_count() > 0, timeout=1.0)


def test_debug_image_has_the_header_and_the_box(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker, debug=True)
    start_tracking(probe, image_factory)
    send_frame(probe, image_factory, 2)
    images = [m for m in probe.wait_count('debug_image', 2) if ns_of(m.header) == stamp_ns(2)]
    assert images, 'no debug image for frame 2'
    image = images[0]
    assert (image.encoding, image.width, image.height) == ('rgb8', 64, 48)
    pixels = bytes(image.data)
    assert len(pixels) == 64 * 48 * 3 and set(pixels) != {2}   # something was drawn


def test_debug_image_is_drawn_only_on_demand(tracker_rig, scripted_tracker, wait_until):
    node, probe = tracker_rig(scripted_tracker)
    assert not node.outputs.wants_debug(False)   # nobody listens: no drawing
    assert node.outputs.wants_debug(True)        # unless the debug_image parameter says so
    probe.node.create_subscription(Image, f'{probe.base}/debug_image', lambda _: None, 1)
    assert wait_until(lambda: node.outputs.wants_debug(False))


def test_compressed_images(tracker_rig, scripted_tracker, wait_until):
    cv2 = pytest.importorskip('cv2')
    import numpy as np

    node, probe = tracker_rig(scripted_tracker, use_compressed=True, connect_image=False)
    publisher = probe.node.create_publisher(CompressedImage,
                                            f'{probe.namespace}/image/compressed', 10)
    assert wait_until(lambda: publisher.get_subscription_count() > 0)
    ok, jpeg = cv2.imencode('.jpg', np.full((48, 64, 3), 120, np.uint8))
    message = CompressedImage(format='jpeg', data=jpeg.tobytes())
    message.header.stamp.sec = 5
    publisher.publish(message)
    probe.wait_status(lambda s: s.header.stamp.sec == 5)
    probe.init_box_pub.publish(bbox(25.0, 19.0, 10.0, 8.0))
    probe.wait_status(lambda s: s.message.startswith('initialised'))
    message.header.stamp.sec = 6
    publisher.publish(message)
    status = probe.wait_status(lambda s: s.header.stamp.sec == 6)
    assert status.state == TrackStatus.TRACKING
    assert abs(scripted_tracker.tracked_markers[0] - 120) <= 2
