"""config/fastdds_large_frames.xml: its shared-memory segment holds camera frames, and with it
best-effort 640x480 images cross from one process to another without loss (without it, most of
them are lost on this machine: README, "Frames lost before the node")."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

pytest.importorskip('rclpy')

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / 'config' / 'fastdds_large_frames.xml'
NS = {'dds': 'http://www.eprosima.com'}


def test_the_default_participant_uses_a_segment_of_two_full_hd_frames():
    root = ElementTree.parse(PROFILE).getroot()
    transports = {d.findtext('dds:transport_id', namespaces=NS): d
                  for d in root.iterfind('.//dds:transport_descriptor', NS)}
    (participant,) = root.iterfind('.//dds:participant', NS)
    assert participant.get('is_default_profile') == 'true'
    used = [t.text for t in participant.iterfind('.//dds:userTransports/dds:transport_id', NS)]
    types = [transports[name].findtext('dds:type', namespaces=NS) for name in used]
    assert types == ['SHM', 'UDPv4']
    segment = int(transports[used[0]].findtext('dds:segment_size', namespaces=NS))
    assert segment >= 2 * 1920 * 1080 * 3


def test_best_effort_camera_frames_arrive_with_the_profile():
    env = dict(os.environ, FASTDDS_DEFAULT_PROFILES_FILE=str(PROFILE))
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)
    result = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / 'bench_dds_loss.py'), '--frames', '60'],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures['profile'] == str(PROFILE)
    assert figures['received'] >= 57, figures   # 60 of 60 in every run so far
