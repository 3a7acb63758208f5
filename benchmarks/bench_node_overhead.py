"""Per-frame cost of the stt_tracker node itself, apart from the model.

A zero-cost tracker stands in for STARK, so every number is the node's own work: decoding the
image, building the Detection2D / Detection2DArray / TrackStatus messages, publishing them, the
whole worker step (`process_frame`), the debug image (only paid with subscribers), and the
end-to-end path over DDS (publisher -> node -> status subscriber, which adds serialisation and
rclpy's conversion of the image message). Prints median and p95 per stage and stream size,
then the setup; `--json` prints the same as one JSON object.

    python benchmarks/bench_node_overhead.py [--frames 200] [--json]
"""
import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import threading
import time
from importlib import metadata

import numpy as np

DOMAIN_ID = 1 + (os.getpid() * 7 + 61) % 100
os.environ.update(ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_LOCALHOST_ONLY='1',
                  ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')

import cv2  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray  # noqa: E402

from stt_tracker_ros.config import TrackerConfig  # noqa: E402
from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros import image_decoding  # noqa: E402
from stt_tracker_ros.ros.conversions import (make_detection, make_detection_array,  # noqa: E402
                                             make_status, stamp_to_ns)
from stt_tracker_ros.ros.debug_overlay import draw_overlay  # noqa: E402
from stt_tracker_ros.ros.frame_cache import ReceivedFrame  # noqa: E402
from stt_tracker_ros.ros.tracker_node import TrackerNode  # noqa: E402
from stt_tracker_ros.tracking.result import TrackResult, TrackState  # noqa: E402

SIZES = {'640x480': (640, 480), '1920x1080': (1920, 1080)}


class ZeroCostTracker:
    """Answers instantly with fixed boxes: the model's cost is taken out of the measurement.

    Has the MultiTargetTracker interface the node drives (add/remove/clear/track/config).
    """

    def __init__(self):
        self.config = TrackerConfig()
        self._results: dict[str, TrackResult] = {}
        self._ids = itertools.count(1)

    @property
    def target_ids(self) -> list[str]:
        return list(self._results)

    def add(self, frame, box_xywh) -> str:
        target_id = str(next(self._ids))
        self._results[target_id] = TrackResult(tuple(float(v) for v in box_xywh), 0.9,
                                               TrackState.TRACKING, False, 1)
        return target_id

    def remove(self, target_id: str) -> None:
        del self._results[target_id]

    def clear(self) -> None:
        self._results.clear()

    def track(self, frame) -> dict[str, TrackResult]:
        return dict(self._results)


def timed(function, frames: int, warmup: int = 10) -> list[float]:
    """Milliseconds per call of `function()` after `warmup` untimed calls."""
    times = []
    for index in range(warmup + frames):
        start = time.perf_counter()
        function()
        if index >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def make_image(width: int, height: int, encoding: str) -> Image:
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    fields = image_decoding.rgb_to_image_fields(rgb)
    if encoding == 'bgr8':
        fields.update(encoding='bgr8', data=rgb[:, :, ::-1].tobytes())
    image = Image(**fields)
    image.header.frame_id = 'camera'
    return image


class Listener(Node):
    """Publishes images like a camera and times the node's status coming back."""

    def __init__(self):
        super().__init__('bench_listener')
        self.image_pub = self.create_publisher(
            Image, 'image', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.init_pub = self.create_publisher(BoundingBox2D, '/stt_tracker/init_box', 10)
        self.arrived = threading.Event()
        self.any_status = threading.Event()
        self.round_trip_ms: list[float] = []
        self.node_ms: list[float] = []
        self.create_subscription(TrackStatus, '/stt_tracker/status', self._on_status, 10)
        for kind, name in ((Detection2D, 'detection'), (Detection2DArray, 'detections')):
            self.create_subscription(kind, f'/stt_tracker/{name}', lambda _: None, 10)

    def _on_status(self, status: TrackStatus) -> None:
        self.any_status.set()
        if status.target_id and not status.message:
            self.round_trip_ms.append((time.time_ns() - stamp_to_ns(status.header.stamp)) / 1e6)
            self.node_ms.append(status.latency_ms)
            self.arrived.set()


def bench_size(node: TrackerNode, listener: Listener, width: int, height: int,
               frames: int) -> dict[str, list[float]]:
    """Every stage for one stream size."""
    image = make_image(width, height, 'rgb8')
    bgr = make_image(width, height, 'bgr8')
    rgb = image_decoding.image_to_rgb(image)
    result = TrackResult((width / 3, height / 3, width / 5, height / 5), 0.9,
                         TrackState.TRACKING, False, 1)
    header = image.header
    frame = ReceivedFrame(image, 10 ** 9, 0, time.monotonic())
    stages = {
        'decode rgb8': lambda: image_decoding.image_to_rgb(image),
        'decode bgr8': lambda: image_decoding.image_to_rgb(bgr),
        'build messages': lambda: (make_detection(header, result.box_xywh, 0.9, 'o', '1'),
                                   make_detection_array(header, []),
                                   make_status(header, '1', TrackState.TRACKING, 0.9)),
        'process_frame (no debug)': lambda: node.process_frame(frame),
        'debug overlay draw': lambda: draw_overlay(rgb, result.box_xywh, result.state, 0.9, '1'),
        'debug image msg': lambda: Image(header=header,
                                         **image_decoding.rgb_to_image_fields(rgb)),
    }
    results = {name: timed(function, frames) for name, function in stages.items()}
    listener.round_trip_ms.clear()
    listener.node_ms.clear()
    for _ in range(frames + 5):
        listener.arrived.clear()
        image.header.stamp = listener.get_clock().now().to_msg()
        listener.image_pub.publish(image)
        if not listener.arrived.wait(5.0):
            raise RuntimeError('the node did not answer within 5 s')
    results['DDS end to end (publish -> status)'] = listener.round_trip_ms[5:]
    results['  of which inside the node'] = listener.node_ms[5:]
    return results


def setup() -> dict[str, str]:
    """What the numbers were measured on."""
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return 'n/a'
    cpu = platform.processor()
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo', encoding='utf-8') as info:
            cpu = next((line.split(':', 1)[1].strip() for line in info
                        if line.startswith('model name')), cpu)
    return {'cpu': cpu, 'cores': str(os.cpu_count()), 'python': platform.python_version(),
            'numpy': np.__version__, 'opencv': cv2.__version__,
            'rclpy': version('ros-rclpy'), 'rmw': os.environ.get('RMW_IMPLEMENTATION', 'default'),
            'cv_bridge': 'yes' if image_decoding._BRIDGE is not None else 'no (own decoder)',
            'ros_domain_id': str(DOMAIN_ID)}


def main() -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=200, help='timed frames per stage')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    args = parser.parse_args()
    rclpy.init(domain_id=DOMAIN_ID)
    tracker = ZeroCostTracker()
    node = TrackerNode(tracker_factory=lambda _: tracker)
    listener = Listener()
    executor = MultiThreadedExecutor(num_threads=2)
    for ros_node in (node, listener):
        executor.add_node(ros_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    report = {'setup': setup(), 'results_ms': {}}
    try:
        deadline = time.monotonic() + 10.0
        while listener.image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        for name, (width, height) in SIZES.items():
            start_target(listener, width, height)
            stats = bench_size(node, listener, width, height, args.frames)
            report['results_ms'][name] = {
                stage: {'median': statistics.median(v), 'p95': float(np.percentile(v, 95))}
                for stage, v in stats.items()}
    finally:
        executor.shutdown()
        node.destroy_node()
        listener.destroy_node()
        rclpy.try_shutdown()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f'{"stage":38s} {"size":>10s} {"median ms":>10s} {"p95 ms":>8s}')
    for size, stages in report['results_ms'].items():
        for stage, numbers in stages.items():
            print(f'{stage:38s} {size:>10s} {numbers["median"]:10.3f} {numbers["p95"]:8.3f}')
    print('setup: ' + ', '.join(f'{k}={v}' for k, v in report['setup'].items()))
    return 0


def start_target(listener: Listener, width: int, height: int) -> None:
    """Send one frame of this size over DDS, then an init box on it."""
    listener.any_status.clear()
    listener.image_pub.publish(make_image(width, height, 'rgb8'))
    if not listener.any_status.wait(5.0):
        raise RuntimeError('the node did not answer within 5 s')
    listener.arrived.clear()
    box = BoundingBox2D(size_x=width / 5, size_y=height / 5)
    box.center.position.x, box.center.position.y = width / 2, height / 2
    listener.init_pub.publish(box)
    time.sleep(0.5)   # the init is handled on the executor; its status carries a message


if __name__ == '__main__':
    sys.exit(main())
