"""Demo and operator tools around the tracker node; the node imports nothing from here.

run (the camera-free demo: `python -m stt_tracker_ros.ros.demo.run`), demo_camera (a node that
plays a synthetic scene or a video), demo_recorder (the demo's video and summary), init_box_gui
(draw the init box on the live image) and box_selection (the GUI's geometry and messages).
"""
