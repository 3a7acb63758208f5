"""The torch floor: stated once, and checked at start-up by stt-tracker and by the node."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stt_tracker_ros import cli
from stt_tracker_ros.torch_version import (TORCH_FLOOR, TorchVersionError, check_torch,
                                           torch_version_problem)
from stt_tracker_ros.tracking.factory import build_tracker

ROOT = Path(__file__).resolve().parents[1]
OLD = '2.1.2'   # e.g. a distribution's python3-torch


@pytest.mark.parametrize('version', ['2.6.0', '2.13.0+cpu', '2.6.0a0+ecf3bae40a.nv25.01',
                                     '10.0.0'])
def test_the_floor_and_later_releases_pass(version):
    assert torch_version_problem(version) == ''


@pytest.mark.parametrize('version', ['1.13.1', '2.5.1+cu121', '2.1.2'])
def test_an_older_torch_is_named_with_the_way_out_in_one_line(version):
    problem = torch_version_problem(version)
    assert problem.startswith(f'torch {version} is too old: stt_tracker_ros needs torch 2.6 '
                              'or later (pip install "torch>=2.6"')
    assert '\n' not in problem


def test_a_missing_torch_is_named():
    assert torch_version_problem(None).startswith(
        'torch is not installed: stt_tracker_ros needs torch 2.6 or later')


def test_the_requirements_state_the_same_floor():
    lines = (ROOT / 'requirements' / 'runtime.txt').read_text().splitlines()
    (floor,) = [re.match(r'torch>=(\d+)\.(\d+)\b', line) for line in lines
                if line.startswith('torch')]
    assert tuple(map(int, floor.groups())) == TORCH_FLOOR


@pytest.fixture
def old_torch(monkeypatch):
    """torch reporting an older release than the floor."""
    monkeypatch.setattr(torch, '__version__', OLD)


def test_check_torch_raises_only_below_the_floor(old_torch, monkeypatch):
    with pytest.raises(TorchVersionError, match=f'torch {OLD} is too old'):
        check_torch()
    monkeypatch.setattr(torch, '__version__', '2.6.0')
    check_torch()


def test_the_cli_stops_before_any_command_runs(old_torch, tmp_path, capsys):
    target = tmp_path / 'out.safetensors'
    assert cli.main(['convert', str(tmp_path / 'missing.pth'), str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: torch {OLD} is too old') and err.count('\n') == 1
    assert not target.exists()


def test_building_a_tracker_refuses_an_old_torch(old_torch):
    with pytest.raises(TorchVersionError, match=f'torch {OLD} is too old'):
        build_tracker(None, 's50', 'cpu', random_weights=True)


@pytest.mark.ros
def test_the_node_does_not_start_and_says_why_in_one_line(tmp_path):
    pytest.importorskip('rclpy')
    code = (f'import sys, torch; torch.__version__ = {OLD!r}; '
            'from stt_tracker_ros.ros.tracker_node import main; sys.exit(main())')
    env = dict(os.environ, ROS_DOMAIN_ID=str(1 + (os.getpid() * 7 + 71) % 100),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOCALHOST_ONLY='1')
    result = subprocess.run([sys.executable, '-c', code, '--ros-args', '-p',
                             'random_weights:=true'], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f'cannot start: torch {OLD} is too old' in result.stderr
    assert 'Traceback' not in result.stderr
