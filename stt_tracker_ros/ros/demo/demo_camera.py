"""Node `demo_camera`: a camera without a camera, for demos and tests.

Plays a generated synthetic scene (stt_tracker_ros.data.synthetic), or a video file when
`video` is set, on `image` (sensor_msgs/Image) at `rate` Hz. For a synthetic scene it also
publishes the target's true box on `~/ground_truth` (vision_msgs/Detection2D, header = the
image's header, id 'truth') for every frame where the target is visible.

    ros2 run stt_tracker_ros demo_camera --ros-args -p rate:=15.0 -p num_frames:=300
    ros2 run stt_tracker_ros demo_camera --ros-args -p video:=/path/to/clip.mp4
"""
import sys
from collections.abc import Iterator

import cv2
import numpy as np
import rclpy
import rclpy.logging
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D

from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.ros.conversions import make_detection
from stt_tracker_ros.ros.image_decoding import rgb_to_image_fields

Frame = tuple[np.ndarray, tuple[float, float, float, float] | None]   # RGB, true box or None


def scene_frames(width: int, height: int, num_frames: int, seed: int) -> Iterator[Frame]:
    """Frames of a synthetic scene with the true box where the target is visible."""
    scene = generate_scene(SceneConfig(width=width, height=height, num_frames=num_frames), seed)
    for index in range(num_frames):
        box = tuple(float(v) for v in scene.boxes[index]) if scene.visible[index] else None
        yield scene.frames[index], box


def video_frames(path: str) -> Iterator[Frame]:
    """Frames of a video file (no ground truth); the file is opened at once.

    Raises:
        OSError: the file cannot be opened.
    """
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise OSError(f'cannot open video {path!r}')
    return _read_video(capture)


def _read_video(capture: cv2.VideoCapture) -> Iterator[Frame]:
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None
    finally:
        capture.release()


class DemoCamera(Node):
    """Publishes frames on a timer; `finished` completes after the last one."""

    def __init__(self, **node_kwargs):
        """Declare parameters, open the source and start the timer.

        Raises:
            OSError: the video cannot be opened.
        """
        super().__init__('demo_camera', **node_kwargs)
        video = self.declare_parameter('video', '').value
        self._rate = self.declare_parameter('rate', 10.0).value
        self._frame_id = self.declare_parameter('frame_id', 'camera').value
        self._wait_for = self.declare_parameter('wait_for_subscribers', 0).value
        self._loop = self.declare_parameter('loop', False).value
        width = self.declare_parameter('width', 640).value
        height = self.declare_parameter('height', 480).value
        num_frames = self.declare_parameter('num_frames', 150).value
        seed = self.declare_parameter('seed', 0).value
        if video:
            self._open = lambda: video_frames(video)
        else:
            self._open = lambda: scene_frames(width, height, num_frames, seed)
        self._frames = self._open()
        self.published = 0
        self.finished = Future()
        self._image_pub = self.create_publisher(Image, 'image', 10)
        self._truth_pub = self.create_publisher(Detection2D, '~/ground_truth', 10)
        self._timer = self.create_timer(1.0 / self._rate, self._on_timer)
        source = video or f'synthetic scene {width}x{height}, {num_frames} frames, seed {seed}'
        self.get_logger().info(f'playing {source} at {self._rate:g} Hz on '
                               f'{self.resolve_topic_name("image")}')

    def _on_timer(self) -> None:
        if self.published == 0 and self._image_pub.get_subscription_count() < self._wait_for:
            return   # hold the first frame until the expected subscribers are there
        item = next(self._frames, None)
        if item is None and self._loop and self.published:
            self._frames = self._open()
            item = next(self._frames, None)
        if item is None:
            self._timer.cancel()
            self.get_logger().info(f'done: {self.published} frames published')
            self.finished.set_result(self.published)
            return
        rgb, truth = item
        image = Image(**rgb_to_image_fields(rgb))
        image.header.stamp = self.get_clock().now().to_msg()
        image.header.frame_id = self._frame_id
        self._image_pub.publish(image)
        if truth is not None:
            self._truth_pub.publish(make_detection(image.header, truth, 1.0, 'target', 'truth'))
        self.published += 1


def main(args: list[str] | None = None) -> int:
    """Play the source once (or forever with loop:=true); returns the exit code."""
    rclpy.init(args=args)
    try:
        node = DemoCamera()
    except (OSError, ValueError) as error:
        rclpy.logging.get_logger('demo_camera').fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin_until_future_complete(node.finished)
        executor.spin_once(timeout_sec=0.5)   # let the last messages go out
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
