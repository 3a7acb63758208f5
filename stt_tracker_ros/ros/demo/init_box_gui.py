"""GUI tool `init_box_gui`: show the live image, drag a box, start the tracker on it.

    ros2 run stt_tracker_ros init_box_gui --ros-args -r image:=/camera/image_raw \\
        -p tracker:=/stt_tracker

Drag with the left mouse button: the frame freezes while you draw, and on release the box (in
the image's own pixels, whatever the window scale) goes to `<tracker>/init_box`, or with
`mode:=stamped` to `<tracker>/init` carrying the frozen frame's stamp. The tracker's current
box is drawn on the live image. Keys: r = reset the tracker, q / Escape = quit.

Parameters: tracker (the tracker node, default /stt_tracker), mode (box or stamped), max_width
and max_height (largest window in pixels, default 1280 x 800; larger images are scaled down).
Uses tkinter only (PPM images, no Pillow); the geometry lives in box_selection.
"""
import math
import sys
import threading
import tkinter

import rclpy
import rclpy.logging
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger
from vision_msgs.msg import BoundingBox2D, Detection2D

from stt_tracker_ros.msg import TrackStatus
from stt_tracker_ros.ros.conversions import bbox_to_xywh
from stt_tracker_ros.ros.demo.box_selection import (box_to_window, drag_to_box, fit_scale,
                                                    init_box_message, init_message, rgb_to_ppm)
from stt_tracker_ros.ros.image_decoding import ImageDecodeError, image_to_rgb

REFRESH_MS = 33
STATE_NAMES = {TrackStatus.IDLE: 'IDLE', TrackStatus.TRACKING: 'TRACKING',
               TrackStatus.LOST: 'LOST'}


class InitBoxNode(Node):
    """ROS side of the GUI: newest image and track in, init boxes and resets out."""

    def __init__(self, **node_kwargs):
        """Declare parameters and create the topics (node_kwargs go to rclpy's Node)."""
        super().__init__('init_box_gui', **node_kwargs)
        tracker = self.declare_parameter('tracker', '/stt_tracker').value.rstrip('/')
        self.mode = self.declare_parameter('mode', 'box').value
        self.max_size = (self.declare_parameter('max_width', 1280).value,
                         self.declare_parameter('max_height', 800).value)
        if self.mode not in ('box', 'stamped'):
            raise ValueError(f"mode must be 'box' or 'stamped', got {self.mode!r}")
        self._lock = threading.Lock()
        self.image: Image | None = None
        self.track_box = None
        self.status_text = 'no status from the tracker yet'
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(Image, 'image', self._on_image, qos)
        self.create_subscription(Detection2D, f'{tracker}/detection', self._on_detection, 10)
        self.create_subscription(TrackStatus, f'{tracker}/status', self._on_status, 10)
        self.init_box_pub = self.create_publisher(BoundingBox2D, f'{tracker}/init_box', 10)
        self.init_pub = self.create_publisher(Detection2D, f'{tracker}/init', 10)
        self.reset_client = self.create_client(Trigger, f'{tracker}/reset')

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self.image = msg

    def _on_detection(self, msg: Detection2D) -> None:
        with self._lock:
            self.track_box = bbox_to_xywh(msg.bbox)

    def _on_status(self, msg: TrackStatus) -> None:
        text = f'target {msg.target_id or "-"}  {STATE_NAMES.get(msg.state, msg.state)}'
        if msg.state != TrackStatus.IDLE and not math.isnan(msg.confidence):
            text += f'  score {msg.confidence:.2f}'
        with self._lock:
            self.status_text = f'{text}  {msg.message}'.strip()
            if msg.state == TrackStatus.IDLE:
                self.track_box = None

    def snapshot(self):
        """(newest image, tracked box, status line) as one consistent triple."""
        with self._lock:
            return self.image, self.track_box, self.status_text

    def send_box(self, box_xywh, image: Image) -> None:
        """Publish the box: on ~/init_box, or on ~/init with `image`'s header."""
        if self.mode == 'stamped':
            self.init_pub.publish(init_message(box_xywh, image.header))
        else:
            self.init_box_pub.publish(init_box_message(box_xywh))
        self.get_logger().info(f'sent init box {tuple(round(v, 1) for v in box_xywh)}')

    def reset_tracker(self) -> None:
        """Ask the tracker to forget its target (asynchronously)."""
        if self.reset_client.service_is_ready():
            self.reset_client.call_async(Trigger.Request())
        else:
            self.get_logger().warning('tracker reset service not available')


class InitBoxApp:
    """tkinter side: a canvas showing the image, rubber-band selection, a status line."""

    def __init__(self, root: tkinter.Tk, node: InitBoxNode):
        """Build the window and start the refresh loop."""
        self.root, self.node = root, node
        root.title('stt_tracker: drag a box around the target')
        self.canvas = tkinter.Canvas(root, width=640, height=480, background='black',
                                     cursor='crosshair', highlightthickness=0)
        self.canvas.pack()
        self.label = tkinter.Label(root, anchor='w', text='waiting for images')
        self.label.pack(fill='x')
        self.photo = None
        self.scale = 1.0
        self.frozen: Image | None = None     # frame shown while dragging
        self.drag_start = None
        self.shown_image: Image | None = None
        self.canvas.bind('<ButtonPress-1>', self._on_press)
        self.canvas.bind('<B1-Motion>', self._on_motion)
        self.canvas.bind('<ButtonRelease-1>', self._on_release)
        root.bind('r', lambda _event: node.reset_tracker())
        root.bind('q', lambda _event: root.destroy())
        root.bind('<Escape>', lambda _event: root.destroy())
        root.after(REFRESH_MS, self._refresh)

    def _refresh(self) -> None:
        image, track_box, status = self.node.snapshot()
        self.label.configure(text=status if image is not None else 'waiting for images')
        if self.frozen is None and image is not None and image is not self.shown_image:
            self._show(image, track_box)
        self.root.after(REFRESH_MS, self._refresh)

    def _show(self, image: Image, track_box) -> None:
        try:
            rgb = image_to_rgb(image)
        except ImageDecodeError as error:
            self.label.configure(text=f'cannot show image: {error}')
            return
        self.scale = fit_scale(image.width, image.height, *self.node.max_size)
        self.photo = tkinter.PhotoImage(data=rgb_to_ppm(rgb, self.scale), format='PPM')
        self.canvas.configure(width=self.photo.width(), height=self.photo.height())
        self.canvas.delete('all')
        self.canvas.create_image(0, 0, image=self.photo, anchor='nw')
        if track_box is not None:
            self.canvas.create_rectangle(*box_to_window(track_box, self.scale),
                                         outline='#28dc3c', width=2)
        self.shown_image = image

    def _on_press(self, event) -> None:
        if self.shown_image is None:
            return
        self.frozen = self.shown_image
        self.drag_start = (event.x, event.y)

    def _on_motion(self, event) -> None:
        if self.drag_start is None:
            return
        self.canvas.delete('selection')
        self.canvas.create_rectangle(*self.drag_start, event.x, event.y, outline='#ffd400',
                                     width=2, dash=(4, 2), tags='selection')

    def _on_release(self, event) -> None:
        if self.drag_start is None:
            return
        frame = self.frozen
        box = drag_to_box(self.drag_start, (event.x, event.y), self.scale, frame.width,
                          frame.height)
        self.drag_start, self.frozen = None, None
        self.canvas.delete('selection')
        if box is not None:
            self.node.send_box(box, frame)


def main(args: list[str] | None = None) -> int:
    """Run the GUI until its window closes (`--help`: print the usage, no display needed);
    returns the process exit code. `args` is a full argv (program name first), sys.argv when
    None."""
    if {'-h', '--help'} & set(remove_ros_args(sys.argv if args is None else args)[1:]):
        print(__doc__.strip())
        return 0
    rclpy.init(args=args)
    logger = rclpy.logging.get_logger('init_box_gui')
    try:
        node = InitBoxNode()
        root = tkinter.Tk()
    except (ValueError, tkinter.TclError) as error:   # bad parameter, or no display
        logger.fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
    spinner.start()
    InitBoxApp(root, node)
    try:
        root.mainloop()
    except KeyboardInterrupt:
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _spin(executor) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass


if __name__ == '__main__':
    sys.exit(main())
