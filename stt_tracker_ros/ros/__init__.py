"""ROS 2 layer: the only code that imports rclpy, cv_bridge or message packages."""
