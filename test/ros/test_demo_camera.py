"""The demo camera plays a synthetic scene (with ground truth) or a video file over DDS."""
import os

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2D  # noqa: E402

from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene  # noqa: E402
from stt_tracker_ros.ros.conversions import bbox_to_xywh, stamp_to_ns  # noqa: E402
from stt_tracker_ros.ros.demo.demo_camera import DemoCamera  # noqa: E402
from stt_tracker_ros.ros.image_decoding import image_to_rgb  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 4


def play(ros_session, wait_until, namespace: str, **params):
    """Run a DemoCamera with `params` until it finishes; returns (images, truths)."""
    listener = Node('listener', namespace=namespace)
    images, truths = [], []
    listener.create_subscription(Image, f'{namespace}/image', images.append, 50)
    listener.create_subscription(Detection2D, f'{namespace}/demo_camera/ground_truth',
                                 truths.append, 50)
    ros_session.add_node(listener)
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    camera = DemoCamera(namespace=namespace,
                        parameter_overrides=overrides + [Parameter('wait_for_subscribers',
                                                                   value=1)])
    ros_session.add_node(camera)
    try:
        assert wait_until(camera.finished.done, timeout=20.0)
        assert wait_until(lambda: len(images) >= camera.published, timeout=5.0)
        wait_until(lambda: False, timeout=0.3)   # late ground-truth messages
    finally:
        ros_session.discard(camera, listener)
    return images, truths


def test_synthetic_scene_with_ground_truth(ros_session, wait_until):
    images, truths = play(ros_session, wait_until, f'/synthetic{os.getpid()}', num_frames=6,
                          rate=50.0, width=160, height=120, seed=4, frame_id='demo_cam')
    scene = generate_scene(SceneConfig(width=160, height=120, num_frames=6), 4)
    assert len(images) == 6
    for index, image in enumerate(images):
        assert image.header.frame_id == 'demo_cam' and image.encoding == 'rgb8'
        np.testing.assert_array_equal(image_to_rgb(image), scene.frames[index])
    stamps = [stamp_to_ns(image.header.stamp) for image in images]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6
    by_stamp = {stamp_to_ns(t.header.stamp): t for t in truths}
    assert len(truths) == int(scene.visible.sum())
    for index, stamp in enumerate(stamps):
        if scene.visible[index]:
            assert bbox_to_xywh(by_stamp[stamp].bbox) == pytest.approx(tuple(scene.boxes[index]))
            assert by_stamp[stamp].id == 'truth'


def test_video_file(ros_session, wait_until, tmp_path):
    cv2 = pytest.importorskip('cv2')
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (80, 60))
    assert writer.isOpened()
    for value in (20, 90, 160, 230):
        writer.write(np.full((60, 80, 3), value, np.uint8))
    writer.release()
    images, truths = play(ros_session, wait_until, f'/video{os.getpid()}', video=str(path),
                          rate=50.0)
    assert [(i.width, i.height) for i in images] == [(80, 60)] * 4 and truths == []
    means = [int(image_to_rgb(i).mean()) for i in images]
    assert all(abs(m - v) <= 3 for m, v in zip(means, (20, 90, 160, 230)))


def test_missing_video_fails_at_start(ros_session, tmp_path):
    with pytest.raises(OSError, match='cannot open video'):
        DemoCamera(namespace='/missing',
                   parameter_overrides=[Parameter('video', value=str(tmp_path / 'no.mp4'))])
