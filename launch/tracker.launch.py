"""Start the stt_tracker node, and rviz2 showing its debug image when use_rviz:=true.

    ros2 launch stt_tracker_ros tracker.launch.py image:=/camera/image_raw use_rviz:=true

Arguments:
    image              image topic to track on (remaps the node's relative `image`)
    params_file        node parameters (default: the installed config/tracker.yaml)
    checkpoint         STARK checkpoint; '' keeps the params file's value
    device             'auto', 'cpu', 'cuda', ...; '' keeps the params file's value
    use_compressed     'true': subscribe <image>/compressed; '' keeps the params file's value
    image_reliability  'best_effort' or 'reliable'; '' keeps the params file's value
    log_level          the node's log level: debug, info, warn, error or fatal
    namespace          namespace for the node (and its topics ~/detection, ~/status, ...)
    use_rviz           also start rviz2 with config/tracker.rviz
    shutdown_on_exit   'true': when the node exits by itself (e.g. an unusable checkpoint), say
                       so and end the launch; 'false' keeps the launch (and rviz2) running
Parameters are read from the file for the node's own section (see stt_tracker_ros.ros.params_file)
and passed as values, so the file's `stt_tracker:` section applies inside any namespace.
The nodes log in colour only when `ros2 launch` writes to a terminal: redirected to a file or a
pipe, their lines are plain text. RCUTILS_COLORIZED_OUTPUT=0 or 1, when set, decides instead.
"""
import os
import sys

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, LogInfo, OpaqueFunction,
                            RegisterEventHandler, Shutdown)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from stt_tracker_ros.ros.params_file import node_parameters

PACKAGE = 'stt_tracker_ros'
NODE_NAME = 'stt_tracker'
RVIZ_DEBUG_TOPIC = f'/{NODE_NAME}/debug_image'   # the topic written in config/tracker.rviz
LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal']


def _tracker_exited(event, context):
    """End the launch when the tracker node exits by itself, with a line that says so."""
    if context.is_shutdown:   # Ctrl-C or another shutdown already asked the node to stop
        return None
    reason = f'{NODE_NAME} exited with code {event.returncode}'
    return [LogInfo(msg=f'{reason} (its last log lines above say why); shutting the launch down '
                        '(shutdown_on_exit:=false keeps it running)'),
            Shutdown(reason=reason)]


def _launch_nodes(context):
    """Build the nodes once the arguments are known."""
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    params = node_parameters(LaunchConfiguration('params_file').perform(context), NODE_NAME,
                             namespace)
    for name in ('checkpoint', 'device', 'image_reliability'):
        value = LaunchConfiguration(name).perform(context)
        if value:
            params[name] = value
    use_compressed = LaunchConfiguration('use_compressed').perform(context)
    if use_compressed:
        params['use_compressed'] = use_compressed == 'true'
    logger = '.'.join([*namespace.split('/'), NODE_NAME]) if namespace else NODE_NAME
    # The nodes see a terminal (emulate_tty) even when launch's output goes to a file: colour
    # codes only where launch itself writes to a terminal, or where the user asks for them.
    colour = {'RCUTILS_COLORIZED_OUTPUT': os.environ.get(
        'RCUTILS_COLORIZED_OUTPUT', '1' if sys.stdout.isatty() else '0')}
    tracker = Node(
        package=PACKAGE, executable='tracker_node', name=NODE_NAME, namespace=namespace,
        parameters=[params],
        remappings=[('image', LaunchConfiguration('image').perform(context))],
        ros_arguments=['--log-level',
                       f'{logger}:={LaunchConfiguration("log_level").perform(context)}'],
        output='screen', emulate_tty=True, additional_env=colour)
    prefix = f'/{namespace}' if namespace else ''
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
        arguments=['-d', os.path.join(get_package_share_directory(PACKAGE), 'config',
                                      'tracker.rviz')],
        remappings=[(RVIZ_DEBUG_TOPIC, f'{prefix}/{NODE_NAME}/debug_image')],
        condition=IfCondition(LaunchConfiguration('use_rviz')), output='screen',
        additional_env=colour)
    actions = [tracker, rviz]
    if LaunchConfiguration('shutdown_on_exit').perform(context) == 'true':
        actions.append(RegisterEventHandler(OnProcessExit(target_action=tracker,
                                                          on_exit=_tracker_exited)))
    return actions


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the nodes."""
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument('image', default_value='image',
                              description='image topic (sensor_msgs/Image) to track on'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'tracker.yaml'),
                              description='YAML file with the node parameters'),
        DeclareLaunchArgument('checkpoint', default_value='',
                              description="STARK checkpoint; '' keeps the params file value"),
        DeclareLaunchArgument('device', default_value='',
                              description="'auto', 'cpu', 'cuda', ...; '' keeps the params "
                                          'file value'),
        DeclareLaunchArgument('use_compressed', default_value='', choices=['', 'true', 'false'],
                              description="'true': subscribe <image>/compressed; '' keeps the "
                                          'params file value'),
        DeclareLaunchArgument('image_reliability', default_value='',
                              choices=['', 'best_effort', 'reliable'],
                              description="image subscription QoS; '' keeps the params file "
                                          'value'),
        DeclareLaunchArgument('log_level', default_value='info', choices=LOG_LEVELS,
                              description='log level of the tracker node'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the tracker node'),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='start rviz2 showing ~/debug_image'),
        DeclareLaunchArgument('shutdown_on_exit', default_value='true',
                              choices=['true', 'false'],
                              description='end the launch when the tracker node exits'),
        OpaqueFunction(function=_launch_nodes),
    ])
