"""How many camera-sized image messages survive DDS between two processes on one host.

One process publishes `--frames` rgb8 images of `--size` at `--rate` Hz; a subscriber in a
second process (the normal case: camera driver and tracker are separate processes) counts what
arrives with the QoS the tracker node uses (depth 1, best effort or reliable). It prints the
count and the loss as one line of JSON per run, with the loss that the node's estimator
(stt_tracker_ros.ros.upstream_loss) reads from the received frames' stamps.

The environment decides the transport, as for the node: FASTDDS_DEFAULT_PROFILES_FILE (Fast DDS
3; FASTRTPS_DEFAULT_PROFILES_FILE before), e.g. config/fastdds_large_frames.xml, or
FASTDDS_BUILTIN_TRANSPORTS (e.g. LARGE_DATA).

    python benchmarks/bench_dds_loss.py [--frames 300] [--rate 30] [--size 640x480]
                                        [--reliability best_effort|reliable]
"""
import argparse
import json
import os
import subprocess
import sys
import time

DOMAIN_ID = 1 + (os.getpid() * 7 + 67) % 100
os.environ.update(ROS_DOMAIN_ID=os.environ.get('STT_BENCH_DOMAIN', str(DOMAIN_ID)),
                  ROS_LOCALHOST_ONLY='1', ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
os.environ['STT_BENCH_DOMAIN'] = os.environ['ROS_DOMAIN_ID']   # the child joins this domain

import rclpy  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from stt_tracker_ros.ros.conversions import stamp_to_ns  # noqa: E402
from stt_tracker_ros.ros.upstream_loss import UpstreamLossEstimator  # noqa: E402

TOPIC = '/bench_dds_loss/image'


def _qos(reliability: str, depth: int) -> QoSProfile:
    policy = (ReliabilityPolicy.RELIABLE if reliability == 'reliable'
              else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=policy)


def subscribe(reliability: str, seconds: float) -> None:
    """Child process: count images for at most `seconds`, stop after an 'end' frame id."""
    rclpy.init()
    node = Node('bench_dds_loss_sub')
    seen = {'count': 0, 'end': False}
    estimator = UpstreamLossEstimator()

    def on_image(msg: Image) -> None:
        if msg.header.frame_id == 'end':
            seen['end'] = True
        else:
            seen['count'] += 1
            estimator.add(stamp_to_ns(msg.header.stamp))
    node.create_subscription(Image, TOPIC, on_image, _qos(reliability, 1))
    print('ready', flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not seen['end']:
        rclpy.spin_once(node, timeout_sec=0.05)
    print(json.dumps({'received': seen['count'], 'estimated_lost': estimator.lost}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


def publish(args) -> dict:
    """Parent process: start the subscriber, publish the frames, collect its count."""
    width, height = (int(v) for v in args.size.split('x'))
    child = subprocess.Popen(
        [sys.executable, __file__, '--role', 'sub', '--reliability', args.reliability,
         '--seconds', str(args.frames / args.rate + 20)],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'ready'
    rclpy.init()
    node = Node('bench_dds_loss_pub')
    # The publisher offers what a camera driver offers: reliable (the default) or best effort.
    publisher = node.create_publisher(Image, TOPIC, _qos(args.reliability, 10))
    deadline = time.monotonic() + 10.0
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)   # let the reader match this writer too
    msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
    msg.data = bytes(width * height * 3)
    start = time.monotonic()
    first_stamp_ns = time.time_ns()
    for index in range(args.frames):
        msg.header.frame_id = str(index)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(
            first_stamp_ns + round(index * 1e9 / args.rate), 10 ** 9)
        publisher.publish(msg)
        time.sleep(max(0.0, start + (index + 1) / args.rate - time.monotonic()))
    time.sleep(1.0)
    end = Image(height=1, width=1, encoding='rgb8', step=3, data=bytes(3))
    end.header.frame_id = 'end'
    for _ in range(20):   # best effort may lose one of these too
        publisher.publish(end)
        time.sleep(0.05)
    counts = json.loads(child.stdout.readline())
    child.wait(30)
    node.destroy_node()
    rclpy.try_shutdown()
    received = counts['received']
    return {'frames': args.frames, 'received': received,
            'lost_percent': round(100.0 * (1 - received / args.frames), 1),
            'estimated_lost': counts['estimated_lost'],
            'size': args.size, 'bytes': width * height * 3, 'rate_hz': args.rate,
            'reliability': args.reliability,
            'profile': os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE',
                                      os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE', '')),
            'builtin_transports': os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', '')}


def main() -> None:
    """Parse the arguments and run the publisher (or, internally, the subscriber)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--size', default='640x480')
    parser.add_argument('--reliability', choices=('best_effort', 'reliable'),
                        default='best_effort')
    parser.add_argument('--role', choices=('pub', 'sub'), default='pub', help=argparse.SUPPRESS)
    parser.add_argument('--seconds', type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == 'sub':
        subscribe(args.reliability, args.seconds)
    else:
        print(json.dumps(publish(args)))


if __name__ == '__main__':
    main()
