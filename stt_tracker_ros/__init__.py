"""STARK single-object tracking: a ROS-free core and a thin ROS 2 layer."""

# The ROS build generates our messages into an installed `stt_tracker_ros/msg` folder; letting the
# package span every `stt_tracker_ros` folder on sys.path keeps them importable from a source tree.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)
