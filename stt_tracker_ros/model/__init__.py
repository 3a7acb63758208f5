"""STARK network modules; nothing here knows about frames, crops or ROS."""
