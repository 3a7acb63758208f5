"""Ctrl-C in the middle of a frame: callbacks that still run after the context was shut down
fail on their publishers, and the node says nothing about it (no traceback, no error line)."""
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.frame_cache import ReceivedFrame  # noqa: E402
from stt_tracker_ros.ros.tracker_node import TrackerNode  # noqa: E402
from stt_tracker_ros.tracking.factory import DEFAULT_CHECKPOINT  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 16
START_S = 120.0   # the node process loads torch and the model on a busy machine
SHUTDOWN_NOISE = ('Traceback', 'RCLError', 'InvalidHandle', 'Failed to publish', 'failed:')


def box(cx: float, cy: float, w: float, h: float) -> BoundingBox2D:
    """A BoundingBox2D (centre and size, pixels)."""
    msg = BoundingBox2D(size_x=w, size_y=h)
    msg.center.position.x, msg.center.position.y = cx, cy
    return msg


def test_callbacks_after_shutdown_report_nothing(ros_session, targets_class, scripted_tracker,
                                                 image_factory, capfd, caplog):
    context = Context()   # the node's own, so that the module's session stays up
    rclpy.init(context=context, domain_id=int(os.environ['ROS_DOMAIN_ID']))
    targets = targets_class(lambda: scripted_tracker)
    node = TrackerNode(tracker_factory=lambda _: targets, context=context,
                       namespace=f'/shutdown{os.getpid()}')
    try:
        node._on_image(image_factory(1, stamp_ns=10 ** 9))
        node._on_init_box(box(25.0, 19.0, 10.0, 8.0))
        assert node._worker.wait_idle(5.0) and targets.target_ids == ['1']
        capfd.readouterr()

        rclpy.shutdown(context=context)   # as Ctrl-C does, while these callbacks still run
        with caplog.at_level(logging.DEBUG):
            frame = image_factory(2, stamp_ns=2 * 10 ** 9)
            node.process_frame(ReceivedFrame(frame, 2, 2 * 10 ** 9, time.monotonic()))
            node.publish_diagnostics()
            assert node._on_reset(Trigger.Request(), Trigger.Response()).success is False
        assert scripted_tracker.tracked_markers == [2]   # tracked; then publishing failed
        err = capfd.readouterr().err
        assert 'Traceback' not in err and 'InvalidHandle' not in err and 'failed' not in err
        assert caplog.records == []
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason='no default model')
def test_ctrl_c_while_frames_flow_ends_the_process_quietly(ros_session, image_factory,
                                                           tmp_path):
    namespace = f'/ctrl_c{os.getpid()}'
    log_path = tmp_path / 'node.log'
    with open(log_path, 'w') as log:   # the default model; diagnostics 20 times a second
        process = subprocess.Popen(
            [sys.executable, '-m', 'stt_tracker_ros.ros.tracker_node', '--ros-args',
             '-r', f'__ns:={namespace}', '-p', 'diagnostics_period:=0.05'],
            stdout=log, stderr=subprocess.STDOUT)
    driver = Node('ctrl_c_driver', namespace=namespace)
    images = driver.create_publisher(Image, f'{namespace}/image', 10)
    init_box = driver.create_publisher(BoundingBox2D, f'{namespace}/stt_tracker/init_box', 10)
    statuses = []
    driver.create_subscription(TrackStatus, f'{namespace}/stt_tracker/status', statuses.append,
                               10)
    ros_session.add_node(driver)
    stamp = iter(range(1, 1_000_000))

    def frames_until(done, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and process.poll() is None:
            images.publish(image_factory(100, 320, 240, stamp_ns=next(stamp) * 33_000_000))
            time.sleep(0.033)

    try:
        frames_until(lambda: statuses, START_S)
        init_box.publish(box(160.0, 120.0, 40.0, 40.0))
        frames_until(lambda: any(s.target_id == '1' and s.message == '' for s in statuses), 30.0)
        assert any(s.target_id == '1' and s.message == '' for s in statuses), statuses[-3:]
        process.send_signal(signal.SIGINT)   # while frames are being tracked and published
        frames_until(lambda: False, 0.5)
        assert process.wait(30.0) == 0
    finally:
        ros_session.discard(driver)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text()
    assert not [sign for sign in SHUTDOWN_NOISE if sign in text], text[-3000:]
