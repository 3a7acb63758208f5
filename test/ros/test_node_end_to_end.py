"""The node with the real STARK tracker (random weights) and its start-up failures.

Random weights make the boxes meaningless, so only the plumbing is asserted: the real model
runs on the node's worker thread and its result arrives with the image's header. Start-up
failures run the node's `main` in a subprocess: it must exit non-zero and name the file.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stt_tracker_ros.parity import fixture_model

rclpy = pytest.importorskip('rclpy')

from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 6
ROOT = Path(__file__).resolve().parents[2]


def test_real_tracker_behind_the_node(tracker_rig, image_factory):
    node, probe = tracker_rig(None, random_weights=True, variant='st50', device='cpu')
    probe.image_pub.publish(image_factory(60, width=160, height=120, stamp_ns=10 ** 9))
    probe.wait_status(lambda s: s.header.stamp.sec == 1)
    box = BoundingBox2D(size_x=40.0, size_y=30.0)
    box.center.position.x, box.center.position.y = 80.0, 60.0
    probe.init_box_pub.publish(box)
    probe.wait_status(lambda s: s.message.startswith('initialised'), timeout=60.0)
    probe.image_pub.publish(image_factory(61, width=160, height=120, stamp_ns=2 * 10 ** 9,
                                          frame_id='real'))
    status = probe.wait_status(lambda s: s.header.stamp.sec == 2, timeout=60.0)
    assert status.state in (TrackStatus.TRACKING, TrackStatus.LOST) and status.message == ''
    assert 0.0 <= status.confidence <= 1.0 and status.target_id == '1'
    assert status.header.frame_id == 'real'
    (array,) = [a for a in probe.messages('detections') if a.header.stamp.sec == 2]
    for detection in array.detections:
        x, y = detection.bbox.center.position.x, detection.bbox.center.position.y
        assert math.isfinite(x) and 0.0 <= x <= 160.0 and 0.0 <= y <= 120.0


def test_real_tracker_runs_two_targets_in_one_frame(tracker_rig, image_factory, wait_until,
                                                    tmp_path):
    # An official STARK-Lightning file (training-time keys), recognised from its keys. It has
    # no score head: no confidence (NaN), and both targets stay TRACKING and are published.
    checkpoint = tmp_path / 'STARKLightningXtrt_ep0500.pth.tar'
    torch.save({'net': fixture_model('lightning', salt=3, fused=False).state_dict()}, checkpoint)
    node, probe = tracker_rig(None, checkpoint=str(checkpoint), device='cpu', max_targets=2)
    probe.image_pub.publish(image_factory(60, width=160, height=120, stamp_ns=10 ** 9))
    probe.wait_status(lambda s: s.header.stamp.sec == 1)
    for target_id, (x, y) in (('1', (50.0, 40.0)), ('2', (110.0, 80.0))):
        box = BoundingBox2D(size_x=30.0, size_y=24.0)
        box.center.position.x, box.center.position.y = x, y
        probe.init_box_pub.publish(box)
        probe.wait_status(lambda s: s.message.startswith('initialised')
                          and s.target_id == target_id, timeout=60.0)
    probe.image_pub.publish(image_factory(61, width=160, height=120, stamp_ns=2 * 10 ** 9))
    probe.wait_status(lambda s: s.header.stamp.sec == 2, timeout=60.0)

    def arrays():
        return [a for a in probe.messages('detections') if a.header.stamp.sec == 2]
    assert wait_until(arrays)
    (array,) = arrays()
    assert sorted(d.id for d in array.detections) == ['1', '2']
    for detection in array.detections:
        assert math.isnan(detection.results[0].hypothesis.score)
        assert 0.0 <= detection.bbox.center.position.x <= 160.0


def run_node(tmp_path, *ros_args: str) -> subprocess.CompletedProcess:
    """Run the tracker node's main in a fresh process on a domain of its own."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(1 + (os.getpid() * 7 + 50) % 100),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOCALHOST_ONLY='1')
    return subprocess.run(
        [sys.executable, '-m', 'stt_tracker_ros.ros.tracker_node', '--ros-args', *ros_args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_missing_checkpoint_is_fatal_and_named(tmp_path):
    missing = tmp_path / 'no_such_model.pth.tar'
    result = run_node(tmp_path, '-p', f'checkpoint:={missing}')
    assert result.returncode == 1
    assert 'cannot start' in result.stderr and str(missing) in result.stderr
    assert 'Traceback' not in result.stderr   # one clear line, not a crash


def test_corrupt_checkpoint_is_fatal_and_named(tmp_path):
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'this is not a checkpoint')
    result = run_node(tmp_path, '-p', f'checkpoint:={corrupt}')
    assert result.returncode == 1
    assert 'cannot start' in result.stderr and str(corrupt) in result.stderr


def test_bad_parameter_value_is_fatal(tmp_path):
    result = run_node(tmp_path, '-p', 'image_reliability:=fast', '-p', 'random_weights:=true')
    assert result.returncode == 1 and 'image_reliability' in result.stderr
