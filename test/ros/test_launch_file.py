"""launch/tracker.launch.py, checked without the `launch` packages (not on PyPI).

The file is parsed for its imports, then executed against small recording stand-ins for the
launch API so that its own logic runs: arguments, parameters from config/tracker.yaml in any
namespace, overrides, remaps, the installed executable and the rviz config. Where the real
`launch` and `launch_ros` are importable (a ROS system), the last test builds it for real.
"""
import ast
import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

pytest.importorskip('rclpy')

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILE = ROOT / 'launch' / 'tracker.launch.py'
ARGUMENTS = {'image', 'params_file', 'checkpoint', 'device', 'namespace', 'use_rviz'}
# Where each name lives in the real launch API (Humble, Jazzy, Kilted alike).
REAL_API = {
    'LaunchDescription': 'launch',
    'DeclareLaunchArgument': 'launch.actions',
    'OpaqueFunction': 'launch.actions',
    'IfCondition': 'launch.conditions',
    'LaunchConfiguration': 'launch.substitutions',
    'Node': 'launch_ros.actions',
    'get_package_share_directory': 'ament_index_python.packages',
}


class _Recorded:
    """Stand-in for a launch class: keeps its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration(_Recorded):
    def perform(self, context: dict) -> str:
        return context[self.args[0]]


def installed_executables() -> set[str]:
    """Executables CMakeLists.txt installs into lib/stt_tracker_ros."""
    text = (ROOT / 'CMakeLists.txt').read_text()
    match = re.search(r'foreach\(STT_NODE_MODULE ([^)]*)\)', text)
    assert match, 'no launcher loop in CMakeLists.txt'
    return set(match.group(1).split())


@pytest.fixture
def launch_module(monkeypatch):
    """The launch file executed against recording stand-ins of the launch API."""
    names = {
        'launch': {'LaunchDescription': type('LaunchDescription', (_Recorded,), {})},
        'launch.actions': {'DeclareLaunchArgument': type('DeclareLaunchArgument',
                                                         (_Recorded,), {}),
                           'OpaqueFunction': type('OpaqueFunction', (_Recorded,), {})},
        'launch.conditions': {'IfCondition': type('IfCondition', (_Recorded,), {})},
        'launch.substitutions': {'LaunchConfiguration': _LaunchConfiguration},
        'launch_ros': {},
        'launch_ros.actions': {'Node': type('Node', (_Recorded,), {})},
        'ament_index_python.packages': {'get_package_share_directory': lambda _: str(ROOT)},
    }
    for module_name, attributes in names.items():
        module = types.ModuleType(module_name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, module_name, module)
    spec = importlib.util.spec_from_file_location('tracker_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_launch(module, **arguments):
    """Evaluate the description with `arguments` over the defaults; returns (args, nodes)."""
    entities = module.generate_launch_description().args[0]
    declared = {e.args[0]: e.kwargs for e in entities if type(e).__name__ ==
                'DeclareLaunchArgument'}
    (opaque,) = [e for e in entities if type(e).__name__ == 'OpaqueFunction']
    context = {name: kwargs['default_value'] for name, kwargs in declared.items()}
    context.update(arguments)
    nodes = {node.kwargs['executable']: node for node in opaque.kwargs['function'](context)}
    return declared, nodes


def test_imports_match_the_real_launch_api():
    tree = ast.parse(LAUNCH_FILE.read_text())
    imported = {alias.name: node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    for name, module in imported.items():
        if name in REAL_API:
            assert module == REAL_API[name], name
    assert {'generate_launch_description'} <= {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_documented_arguments_are_declared(launch_module):
    declared, _ = run_launch(launch_module)
    assert set(declared) == ARGUMENTS
    assert all(kwargs.get('description') for kwargs in declared.values())
    assert Path(declared['params_file']['default_value']) == ROOT / 'config' / 'tracker.yaml'
    assert declared['use_rviz']['default_value'] == 'false'


def test_default_launch_starts_the_installed_node(launch_module):
    _, nodes = run_launch(launch_module)
    tracker = nodes['tracker_node'].kwargs
    assert tracker['package'] == 'stt_tracker_ros' and tracker['name'] == 'stt_tracker'
    assert 'tracker_node' in installed_executables()
    shipped = yaml.safe_load((ROOT / 'config' / 'tracker.yaml').read_text())
    assert tracker['parameters'] == [shipped['stt_tracker']['ros__parameters']]
    assert tracker['remappings'] == [('image', 'image')] and tracker['namespace'] == ''
    cmake = (ROOT / 'CMakeLists.txt').read_text()
    assert re.search(r'install\(DIRECTORY[^)]*\blaunch\b[^)]*\bconfig\b', cmake)


def test_arguments_reach_the_node_and_rviz(launch_module):
    _, nodes = run_launch(launch_module, namespace='/robot1', image='/cam/image_raw',
                          checkpoint='/models/st50.pth.tar', device='cpu', use_rviz='true')
    tracker = nodes['tracker_node'].kwargs
    (params,) = tracker['parameters']
    assert (params['checkpoint'], params['device']) == ('/models/st50.pth.tar', 'cpu')
    assert params['lost_threshold'] == 0.5    # the rest still comes from the file
    assert tracker['namespace'] == 'robot1'
    assert tracker['remappings'] == [('image', '/cam/image_raw')]
    rviz = nodes['rviz2'].kwargs
    assert rviz['condition'].args[0].args[0] == 'use_rviz'
    rviz_file = Path(rviz['arguments'][rviz['arguments'].index('-d') + 1])
    assert rviz_file == ROOT / 'config' / 'tracker.rviz'
    assert launch_module.RVIZ_DEBUG_TOPIC in rviz_file.read_text()
    assert rviz['remappings'] == [(launch_module.RVIZ_DEBUG_TOPIC,
                                   '/robot1/stt_tracker/debug_image')]


def test_rviz_config_is_yaml_with_an_image_display():
    config = yaml.safe_load((ROOT / 'config' / 'tracker.rviz').read_text())
    displays = config['Visualization Manager']['Displays']
    (image,) = [d for d in displays if d['Class'] == 'rviz_default_plugins/Image']
    assert image['Topic']['Value'] == '/stt_tracker/debug_image'
    assert image['Topic']['Reliability Policy'] == 'Reliable'   # matches the node's publisher


def test_real_launch_description_builds():
    pytest.importorskip('launch')
    pytest.importorskip('launch_ros')
    spec = importlib.util.spec_from_file_location('tracker_launch_real', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    names = {getattr(e, 'name', None) for e in description.entities}
    assert ARGUMENTS <= names
