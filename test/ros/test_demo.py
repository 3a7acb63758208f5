"""The camera-free demo end to end: three processes over DDS, a video and a summary.

Short (a dozen small frames) but complete: the tracker node with the real model (random
weights), the demo camera, the init from ground truth by stamp, the video file and the summary.
"""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
cv2 = pytest.importorskip('cv2')

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 7


def test_demo_runs_and_reports(tmp_path):
    out = tmp_path / 'demo.mp4'
    domain = 1 + (os.getpid() * 7 + DOMAIN_OFFSET) % 100
    result = subprocess.run(
        [sys.executable, '-m', 'stt_tracker_ros.ros.demo.run', '--frames', '12', '--rate', '8',
         '--size', '320x240', '--seed', '2', '--device', 'cpu', '--out', str(out),
         '--domain-id', str(domain), '--timeout', '150'],
        cwd=tmp_path, capture_output=True, text=True, timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    from stt_tracker_ros.tracking.factory import DEFAULT_CHECKPOINT
    if not DEFAULT_CHECKPOINT.is_file():   # no trained model shipped: the loud note is shown
        assert 'RANDOM weights' in result.stderr
    summary = result.stdout
    assert re.search(r'frames published by the camera: 12\b', summary)
    tracked = int(re.search(r'frames tracked:\s+(\d+)', summary).group(1))
    dropped = int(re.search(r'frames dropped \(newest wins\):\s+(\d+)', summary).group(1))
    assert tracked >= 1 and tracked + dropped <= 12
    assert re.search(r'mean IoU vs ground truth:\s+\d\.\d{3}', summary)
    assert float(re.search(r'largest box / true area:\s+(\d+\.\d{2})', summary).group(1)) > 0
    assert re.search(r'node latency median / p95:\s+\d+\.\d ms', summary)
    video = re.search(r'annotated video:\s+(\S+)', summary).group(1)
    capture = cv2.VideoCapture(video)
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 12
    assert (tmp_path / 'demo_tracker.log').read_text().count('initialised from ~/init') == 1


def test_the_demo_passes_follow_when_lost_to_the_node():
    from stt_tracker_ros.ros.demo.run import parse_args, tracker_arguments
    assert 'follow_when_lost:=false' in tracker_arguments(parse_args([]))
    assert 'follow_when_lost:=true' in tracker_arguments(parse_args(['--follow-when-lost']))
