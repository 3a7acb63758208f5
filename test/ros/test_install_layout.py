"""The colcon-installed stt_tracker_ros works on its own, as `ros2 run` / `ros2 launch` see it.

Checks the install prefix found through the ament index (in the dev environment that is
.venv/ros_ws/install; on a ROS system the user's workspace install), not the source tree.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# `ros2 run stt_tracker_ros <executable>` -> the module whose main it runs
NODE_MODULES = {'tracker_node': 'stt_tracker_ros.ros.tracker_node',
                'init_box_gui': 'stt_tracker_ros.ros.demo.init_box_gui',
                'demo_camera': 'stt_tracker_ros.ros.demo.demo_camera'}

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def prefix() -> Path:
    """Install prefix of stt_tracker_ros according to AMENT_PREFIX_PATH."""
    pytest.importorskip('rclpy')
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix('stt_tracker_ros'))


@pytest.fixture(scope='module')
def site_packages(prefix) -> Path:
    """The install prefix's Python folder (lib/pythonX.Y/site-packages)."""
    version = f'python{sys.version_info.major}.{sys.version_info.minor}'
    path = prefix / 'lib' / version / 'site-packages'
    assert (path / 'stt_tracker_ros').is_dir(), f'no stt_tracker_ros package under {path}'
    return path


def run_installed_python(site_packages: Path, code: str, cwd: Path) -> str:
    """Run `code` with only the install prefix (not the source tree) providing stt_tracker_ros."""
    env = dict(os.environ, PYTHONPATH=str(site_packages))
    result = subprocess.run([sys.executable, '-c', code], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize('name, module', NODE_MODULES.items())
def test_node_executables_are_installed_for_ros2_run(prefix, name, module):
    launcher = prefix / 'lib' / 'stt_tracker_ros' / name
    assert launcher.is_file() and os.access(launcher, os.X_OK), launcher
    text = launcher.read_text()
    assert text.startswith('#!')
    assert f'from {module} import main' in text


def test_launch_and_parameter_files_are_installed(prefix):
    share = prefix / 'share' / 'stt_tracker_ros'
    for relative in ('package.xml', 'launch/tracker.launch.py', 'config/tracker.yaml',
                     'config/fastdds_large_frames.xml'):
        assert (share / relative).is_file(), f'{share / relative} is not installed'


def test_installed_package_merges_generated_messages_and_sources(site_packages, tmp_path):
    out = run_installed_python(site_packages, '\n'.join([
        'import importlib.util',
        'import stt_tracker_ros',
        'from stt_tracker_ros.msg import TrackStatus',
        'from stt_tracker_ros.tracking.result import TrackState',
        'assert TrackStatus.LOST == TrackState.LOST',
        "print('package', stt_tracker_ros.__file__)",
        f'for name, module in {NODE_MODULES!r}.items():',
        '    spec = importlib.util.find_spec(module)',
        '    print(name, spec.origin if spec else None)',
    ]), tmp_path)
    origins = dict(line.split(' ', 1) for line in out.splitlines())
    assert sorted(origins) == sorted(['package', *NODE_MODULES])
    for name, origin in origins.items():
        assert origin.startswith(str(site_packages)), f'{name} imports from {origin}'


def test_default_model_is_installed_with_the_package(site_packages):
    source = (Path(__file__).resolve().parents[2] / 'stt_tracker_ros' / 'weights'
              / 'default.safetensors')
    if not source.is_file():
        pytest.skip('this checkout ships no default model')
    installed = site_packages / 'stt_tracker_ros' / 'weights' / 'default.safetensors'
    assert installed.is_file(), f'{installed} is not installed'
    assert installed.stat().st_size == source.stat().st_size
