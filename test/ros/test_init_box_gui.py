"""The init-box GUI: drag geometry, PPM encoding, messages reaching the node, and the window.

Everything but the last test runs without a display; the last one drives the real tkinter
window with synthetic mouse events on $DISPLAY or on a private Xvfb, and skips without either.
"""
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.parameter import Parameter  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.conversions import bbox_to_xywh  # noqa: E402
from stt_tracker_ros.ros.demo.box_selection import (box_to_window, drag_to_box,  # noqa: E402
                                                    fit_scale, init_box_message, init_message,
                                                    rgb_to_ppm)

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 5


def test_fit_scale_shrinks_large_images_and_caps_enlargement():
    assert fit_scale(1920, 1080, 1280, 800) == pytest.approx(1280 / 1920)
    assert fit_scale(640, 480, 1280, 800) == pytest.approx(800 / 480)
    assert fit_scale(160, 120, 1280, 800) == 2.0
    with pytest.raises(ValueError):
        fit_scale(0, 480, 1280, 800)


@pytest.mark.parametrize('start, end', [((100, 50), (300, 250)), ((300, 250), (100, 50)),
                                        ((300, 50), (100, 250))])
def test_drag_in_any_direction_gives_the_same_image_box(start, end):
    # Window shows a 1920x1080 image at scale 0.5: window pixel (100, 50) is image (200, 100).
    assert drag_to_box(start, end, 0.5, 1920, 1080) == pytest.approx((200, 100, 400, 400))


def test_drag_is_clipped_to_the_image_and_tiny_drags_are_clicks():
    assert drag_to_box((-20, -20), (50, 40), 2.0, 100, 100) == pytest.approx((0, 0, 25, 20))
    assert drag_to_box((150, 150), (400, 400), 2.0, 100, 100) == pytest.approx((75, 75, 25, 25))
    assert drag_to_box((10, 10), (11.5, 60), 1.0, 100, 100) is None
    assert drag_to_box((500, 500), (600, 600), 1.0, 100, 100) is None   # all outside


def test_box_to_window_inverts_the_scale():
    box = drag_to_box((30, 40), (90, 100), 1.5, 640, 480)
    assert box_to_window(box, 1.5) == pytest.approx((30, 40, 90, 100))


def test_ppm_header_size_and_nearest_neighbour_scaling():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    ppm = rgb_to_ppm(rgb)
    assert ppm == b'P6 3 2 255\n' + rgb.tobytes()
    doubled = rgb_to_ppm(rgb, 2.0)
    header, pixels = doubled.split(b'\n', 1)
    assert header == b'P6 6 4 255'
    image = np.frombuffer(pixels, np.uint8).reshape(4, 6, 3)
    np.testing.assert_array_equal(image[::2, ::2], rgb)
    np.testing.assert_array_equal(image[1::2, 1::2], rgb)
    with pytest.raises(ValueError):
        rgb_to_ppm(np.zeros((2, 2), np.uint8))


def test_messages_carry_the_box_and_the_frame_stamp(image_factory):
    frame = image_factory(1, stamp_ns=42 * 10 ** 9)
    assert bbox_to_xywh(init_box_message((5, 6, 7, 8))) == pytest.approx((5, 6, 7, 8))
    detection = init_message((5, 6, 7, 8), frame.header)
    assert detection.header.stamp.sec == 42
    assert bbox_to_xywh(detection.bbox) == pytest.approx((5, 6, 7, 8))


@pytest.mark.parametrize('mode, source', [('box', '~/init_box'), ('stamped', '~/init')])
def test_gui_node_starts_the_tracker(tracker_rig, scripted_tracker, image_factory, ros_session,
                                     wait_until, mode, source):
    from stt_tracker_ros.ros.demo.init_box_gui import InitBoxNode

    node, probe = tracker_rig(scripted_tracker)
    gui = InitBoxNode(namespace=probe.namespace, parameter_overrides=[
        Parameter('tracker', value=probe.base), Parameter('mode', value=mode)])
    ros_session.add_node(gui)
    try:
        assert wait_until(lambda: gui.init_box_pub.get_subscription_count() > 0
                          and gui.init_pub.get_subscription_count() > 0
                          and probe.image_pub.get_subscription_count() > 1
                          and node.outputs.status_subscribers() > 1)   # the probe and the GUI
        frame = image_factory(3, stamp_ns=7 * 10 ** 9)
        # The GUI subscribes best effort: repeat until its side of the match is up too.
        assert wait_until(lambda: probe.image_pub.publish(frame)
                          or gui.snapshot()[0] is not None, period=0.1)
        probe.wait_status(lambda s: s.header.stamp.sec == 7)
        image, _, _ = gui.snapshot()
        gui.send_box(drag_to_box((20, 10), (60, 50), 2.0, image.width, image.height), image)
        status = probe.wait_status(lambda s: s.message == f'initialised from {source}')
        assert status.state == TrackStatus.TRACKING and status.header.stamp.sec == 7
        assert scripted_tracker.box == pytest.approx((10.0, 5.0, 20.0, 20.0))
        # One more frame: its status says TRACKING too, should the GUI have missed the first.
        later = image_factory(3, stamp_ns=8 * 10 ** 9)
        probe.image_pub.publish(later)
        probe.wait_status(lambda s: s.header.stamp.sec == 8)
        assert wait_until(lambda: 'TRACKING' in gui.snapshot()[2])
    finally:
        ros_session.discard(gui)


@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_help_prints_usage_without_a_display(flag):
    # `ros2 run stt_tracker_ros init_box_gui --help` runs the installed launcher with the flag.
    from ament_index_python.packages import get_package_prefix

    launcher = Path(get_package_prefix('stt_tracker_ros')) / 'lib' / 'stt_tracker_ros' / \
        'init_box_gui'
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    result = subprocess.run([str(launcher), flag], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'ros2 run stt_tracker_ros init_box_gui --ros-args -r image:=' in result.stdout
    assert 'mode:=stamped' in result.stdout and 'max_width' in result.stdout
    assert 'cannot start' not in result.stderr


@pytest.fixture
def display():
    """An X display name: $DISPLAY, else a private Xvfb server when installed."""
    if os.environ.get('DISPLAY'):
        yield os.environ['DISPLAY']
        return
    xvfb = shutil.which('Xvfb')
    if xvfb is None:
        pytest.skip('no X display and no Xvfb')
    number = 100 + os.getpid() % 400
    server = subprocess.Popen([xvfb, f':{number}', '-screen', '0', '800x600x24', '-nolisten',
                               'tcp'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while not Path(f'/tmp/.X11-unix/X{number}').exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f':{number}'
    finally:
        server.terminate()
        server.wait(5.0)


def test_window_drag_starts_the_tracker(display, tracker_rig, scripted_tracker, image_factory,
                                        ros_session):
    import tkinter

    from stt_tracker_ros.ros.demo.init_box_gui import InitBoxApp, InitBoxNode

    node, probe = tracker_rig(scripted_tracker)
    gui = InitBoxNode(namespace=probe.namespace,
                      parameter_overrides=[Parameter('tracker', value=probe.base)])
    ros_session.add_node(gui)
    root = tkinter.Tk(screenName=display)
    try:
        app = InitBoxApp(root, gui)

        def pump_until(predicate, timeout=10.0):
            deadline = time.monotonic() + timeout
            while not predicate() and time.monotonic() < deadline:
                root.update()
                time.sleep(0.01)
            return predicate()

        assert pump_until(lambda: probe.image_pub.get_subscription_count() > 1)
        frame = image_factory(9, width=160, height=120, stamp_ns=3 * 10 ** 9)
        # The GUI subscribes best effort: repeat until its side of the match is up too.
        assert pump_until(lambda: probe.image_pub.publish(frame) or app.shown_image is not None)
        assert app.scale == 2.0   # 160x120 shown at 320x240
        assert (app.photo.width(), app.photo.height()) == (320, 240)
        app.canvas.event_generate('<ButtonPress-1>', x=20, y=20)
        app.canvas.event_generate('<B1-Motion>', x=60, y=50)
        assert app.canvas.find_withtag('selection')
        app.canvas.event_generate('<ButtonRelease-1>', x=100, y=80)
        assert pump_until(lambda: scripted_tracker.box is not None)
        assert scripted_tracker.box == pytest.approx((10.0, 10.0, 40.0, 30.0))
        assert pump_until(lambda: 'TRACKING' in app.label.cget('text'))
    finally:
        root.destroy()
        ros_session.discard(gui)
