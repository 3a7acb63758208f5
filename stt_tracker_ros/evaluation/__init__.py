"""Tracker evaluation: run trackers over sequences, score the result files, plot and summarise."""
