"""Start the stt_tracker node, and rviz2 showing its debug image when use_rviz:=true.

    ros2 launch stt_tracker_ros tracker.launch.py image:=/camera/image_raw use_rviz:=true

Arguments:
    image        image topic to track on (remaps the node's relative `image`)
    params_file  node parameters (default: the installed config/tracker.yaml)
    checkpoint   STARK checkpoint; '' keeps the params file's value
    device       'auto', 'cpu', 'cuda', ...; '' keeps the params file's value
    namespace    namespace for the node (and its topics ~/detection, ~/status, ...)
    use_rviz     also start rviz2 with config/tracker.rviz
Parameters are read from the file for the node's own section (see stt_tracker_ros.ros.params_file)
and passed as values, so the file's `stt_tracker:` section applies inside any namespace.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from stt_tracker_ros.ros.params_file import node_parameters

PACKAGE = 'stt_tracker_ros'
NODE_NAME = 'stt_tracker'
RVIZ_DEBUG_TOPIC = f'/{NODE_NAME}/debug_image'   # the topic written in config/tracker.rviz


def _launch_nodes(context):
    """Build the nodes once the arguments are known."""
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    params = node_parameters(LaunchConfiguration('params_file').perform(context), NODE_NAME,
                             namespace)
    for name in ('checkpoint', 'device'):
        value = LaunchConfiguration(name).perform(context)
        if value:
            params[name] = value
    tracker = Node(
        package=PACKAGE, executable='tracker_node', name=NODE_NAME, namespace=namespace,
        parameters=[params],
        remappings=[('image', LaunchConfiguration('image').perform(context))],
        output='screen', emulate_tty=True)
    prefix = f'/{namespace}' if namespace else ''
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
        arguments=['-d', os.path.join(get_package_share_directory(PACKAGE), 'config',
                                      'tracker.rviz')],
        remappings=[(RVIZ_DEBUG_TOPIC, f'{prefix}/{NODE_NAME}/debug_image')],
        condition=IfCondition(LaunchConfiguration('use_rviz')), output='screen')
    return [tracker, rviz]


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
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the tracker node'),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='start rviz2 showing ~/debug_image'),
        OpaqueFunction(function=_launch_nodes),
    ])
