"""Frames with ground truth: synthetic scenes and readers for tracking and detection data sets."""
