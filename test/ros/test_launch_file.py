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
ARGUMENTS = {'image', 'params_file', 'checkpoint', 'device', 'use_compressed',
             'image_reliability', 'log_level', 'namespace', 'use_rviz', 'shutdown_on_exit'}
# Where each name lives in the real launch API (Humble, Jazzy, Kilted alike).
REAL_API = {
    'LaunchDescription': 'launch',
    'DeclareLaunchArgument': 'launch.actions',
    'OpaqueFunction': 'launch.actions',
    'LogInfo': 'launch.actions',
    'RegisterEventHandler': 'launch.actions',
    'Shutdown': 'launch.actions',
    'OnProcessExit': 'launch.event_handlers',
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
        'launch.actions': {name: type(name, (_Recorded,), {}) for name in (
            'DeclareLaunchArgument', 'OpaqueFunction', 'LogInfo', 'RegisterEventHandler',
            'Shutdown')},
        'launch.event_handlers': {'OnProcessExit': type('OnProcessExit', (_Recorded,), {})},
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


def launch_actions(module, **arguments) -> tuple[dict, list]:
    """Evaluate the description with `arguments` over the defaults; returns (args, actions)."""
    entities = module.generate_launch_description().args[0]
    declared = {e.args[0]: e.kwargs for e in entities if type(e).__name__ ==
                'DeclareLaunchArgument'}
    (opaque,) = [e for e in entities if type(e).__name__ == 'OpaqueFunction']
    context = {name: kwargs['default_value'] for name, kwargs in declared.items()}
    context.update(arguments)
    for name, value in context.items():
        assert declared[name].get('choices') in (None, []) or value in declared[name]['choices']
    return declared, opaque.kwargs['function'](context)


def run_launch(module, **arguments):
    """Evaluate the description with `arguments` over the defaults; returns (args, nodes)."""
    declared, actions = launch_actions(module, **arguments)
    return declared, {a.kwargs['executable']: a for a in actions if 'executable' in a.kwargs}


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


def test_input_and_log_arguments_reach_the_node(launch_module):
    _, nodes = run_launch(launch_module)
    tracker = nodes['tracker_node'].kwargs
    (params,) = tracker['parameters']
    assert (params['use_compressed'], params['image_reliability']) == (False, 'best_effort')
    assert tracker['ros_arguments'] == ['--log-level', 'stt_tracker:=info']

    _, nodes = run_launch(launch_module, use_compressed='true', image_reliability='reliable',
                          log_level='debug', namespace='/robot1/left')
    tracker = nodes['tracker_node'].kwargs
    (params,) = tracker['parameters']
    assert (params['use_compressed'], params['image_reliability']) == (True, 'reliable')
    assert tracker['ros_arguments'] == ['--log-level', 'robot1.left.stt_tracker:=debug']
    _, nodes = run_launch(launch_module, use_compressed='false')
    assert nodes['tracker_node'].kwargs['parameters'][0]['use_compressed'] is False


@pytest.mark.parametrize('terminal, user_setting, expected', [
    (False, None, '0'),   # launch output redirected to a file: plain text
    (True, None, '1'),    # a terminal: colour, as rcutils gives it by default
    (False, '1', '1'),    # the user's setting wins
    (True, '0', '0'),
])
def test_colour_codes_only_on_a_terminal(launch_module, monkeypatch, terminal, user_setting,
                                         expected):
    # emulate_tty makes the nodes see a terminal even when launch's own output is a file.
    monkeypatch.setattr(launch_module.sys, 'stdout', types.SimpleNamespace(
        isatty=lambda: terminal))
    if user_setting is None:
        monkeypatch.delenv('RCUTILS_COLORIZED_OUTPUT', raising=False)
    else:
        monkeypatch.setenv('RCUTILS_COLORIZED_OUTPUT', user_setting)
    _, nodes = run_launch(launch_module, use_rviz='true')
    assert nodes['tracker_node'].kwargs['emulate_tty'] is True
    for node in nodes.values():
        assert node.kwargs['additional_env'] == {'RCUTILS_COLORIZED_OUTPUT': expected}


def test_launch_ends_with_a_message_when_the_node_exits(launch_module):
    declared, actions = launch_actions(launch_module)
    assert declared['shutdown_on_exit']['default_value'] == 'true'
    (tracker,) = [a for a in actions if a.kwargs.get('executable') == 'tracker_node']
    (handler,) = [a for a in actions if type(a).__name__ == 'RegisterEventHandler']
    (on_exit,) = handler.args
    assert type(on_exit).__name__ == 'OnProcessExit'
    assert on_exit.kwargs['target_action'] is tracker
    exited = types.SimpleNamespace(returncode=1)
    log, shutdown = on_exit.kwargs['on_exit'](exited, types.SimpleNamespace(is_shutdown=False))
    assert 'stt_tracker exited with code 1' in log.kwargs['msg']
    assert 'shutdown_on_exit:=false' in log.kwargs['msg']
    assert type(shutdown).__name__ == 'Shutdown'
    assert shutdown.kwargs['reason'] == 'stt_tracker exited with code 1'
    # After Ctrl-C the launch is already shutting down: nothing more to say or do.
    assert on_exit.kwargs['on_exit'](exited, types.SimpleNamespace(is_shutdown=True)) is None

    _, actions = launch_actions(launch_module, shutdown_on_exit='false')
    assert not [a for a in actions if type(a).__name__ == 'RegisterEventHandler']


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
