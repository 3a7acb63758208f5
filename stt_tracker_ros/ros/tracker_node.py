"""ROS 2 node `stt_tracker`: follow the objects in init boxes through an image stream.

Topics (relative, remap `image` to your camera):
  sub  image                 sensor_msgs/Image (or `<image>/compressed` with use_compressed)
  sub  ~/init_box            vision_msgs/BoundingBox2D, pixels, applied to the newest frame
  sub  ~/init                vision_msgs/Detection2D, applied to the cached frame with its stamp
  sub  ~/remove_target       std_msgs/String: forget the target with this id
  pub  ~/detection           vision_msgs/Detection2D per target (header = the image's header)
  pub  ~/detections          vision_msgs/Detection2DArray: every tracked target of the frame
  pub  ~/status              stt_tracker_ros/TrackStatus (per target and frame, and bad input)
  pub  ~/debug_image         sensor_msgs/Image rgb8, only with subscribers or `debug_image`
  srv  ~/reset               std_srvs/Trigger: forget all targets
  srv  ~/enable              std_srvs/SetBool: stop (false) and resume (true) tracking
  pub  /diagnostics          diagnostic_msgs/DiagnosticArray every `diagnostics_period` s

The tracker (a MultiTargetTracker) owns the targets: ids '1', '2', ..., states, and `max_targets`
(an init beyond it replaces the oldest). The node keeps frames, stamps, messages and parameters.
`main` spins a MultiThreadedExecutor: the image callback hands each frame to a newest-wins worker
thread (`worker`, `frame_processing`), while inits and removals (`target_requests`), reset,
enable and parameter changes run in another callback group; all share the tracker through
`tracking_session`. No exception leaves a callback (`callback_guard`): bad input and failures
are logged (throttled, `problem_log`), counted on /diagnostics and explained on ~/status, and
the track is kept.
"""
import sys
import time
from collections.abc import Callable

import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header, String
from std_srvs.srv import SetBool, Trigger
from vision_msgs.msg import BoundingBox2D, Detection2D

from stt_tracker_ros.ros.callback_guard import guarded, parameters_refused, service_failure
from stt_tracker_ros.ros.conversions import bbox_to_xywh, stamp_to_ns
from stt_tracker_ros.ros.diagnostics import HealthMonitor, tracker_details
from stt_tracker_ros.ros.frame_cache import FrameCache, ReceivedFrame
from stt_tracker_ros.ros.frame_processing import FrameProcessor
from stt_tracker_ros.ros.outputs import TrackerOutputs
from stt_tracker_ros.ros.parameters import NodeParameters, apply_changes, declare_parameters
from stt_tracker_ros.ros.problem_log import ProblemLog
from stt_tracker_ros.ros.python_logging import forward_to_ros
from stt_tracker_ros.ros.target_requests import TargetRequests
from stt_tracker_ros.ros.tracking_session import TrackingSession
from stt_tracker_ros.ros.worker import NewestWorker

EXECUTOR_THREADS = 2   # the image callback and the control callbacks run side by side
STALE_IMAGE_S = 2.0   # /diagnostics warns after this long without an image (at least 2 periods)


def default_tracker_factory(params: NodeParameters):
    """The STARK MultiTargetTracker of the node's parameters, warmed up (CheckpointError)."""
    # Imported here so that nodes built with an injected tracker never load torch.
    from stt_tracker_ros.tracking.factory import build_multi_target_tracker, warm_up
    tracker = build_multi_target_tracker(
        params.checkpoint or None, params.variant or None, params.device, params.half,
        params.tracker_config(), random_weights=params.random_weights,
        cuda_graphs=params.cuda_graphs)
    warm_up(tracker)
    return tracker


class TrackerNode(Node):
    """The `stt_tracker` node; see the module docstring for its interface."""

    def __init__(self, tracker_factory: Callable[[NodeParameters], object] | None = None,
                 node_name: str = 'stt_tracker', **node_kwargs):
        """Declare parameters, build the tracker, create topics and services.

        Args:
            tracker_factory: builds the tracker from the parameters; default: the STARK model
                from `checkpoint` in a MultiTargetTracker (tests inject doubles with its
                add/remove/clear/track, target_ids, states, config and max_targets).
            node_name: ROS node name.
            **node_kwargs: passed to rclpy.node.Node (namespace, parameter_overrides, ...).

        Raises:
            Exception: whatever the factory raises (CheckpointError names the file).
        """
        super().__init__(node_name, **node_kwargs)
        forward_to_ros(self.get_logger())   # the model code's warnings, as this node's lines
        self._params = declare_parameters(self)
        tracker = (tracker_factory or default_tracker_factory)(self._params)
        tracker.config = self._params.tracker_config(tracker.config)
        tracker.max_targets = self._params.max_targets
        self._session = TrackingSession(tracker, self.get_logger())
        self._seq = 0
        self._frames = FrameCache(self._params.frame_cache_size)
        self._worker = NewestWorker(self.process_frame, 'stt-tracker-inference')
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._create_interfaces()
        self.get_logger().info(f'ready: images on {self._image_topic}, init box on '
                               f'{self.resolve_topic_name("~/init_box")}')

    def _create_interfaces(self) -> None:
        images, control = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        reliability = (ReliabilityPolicy.RELIABLE if self._params.image_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        image_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        compressed = self._params.use_compressed   # remaps apply to `image`, as image_transport
        self._image_topic = (self.resolve_topic_name('image')
                             + ('/compressed' if compressed else ''))
        self.image_subscription = self.create_subscription(
            CompressedImage if compressed else Image, self._image_topic,
            self._on_compressed if compressed else self._on_image, image_qos,
            callback_group=images)
        for kind, topic, callback in ((BoundingBox2D, '~/init_box', self._on_init_box),
                                      (Detection2D, '~/init', self._on_init),
                                      (String, '~/remove_target', self._on_remove_target)):
            self.create_subscription(kind, topic, callback, 10, callback_group=control)
        self.create_service(Trigger, '~/reset', self._on_reset, callback_group=control)
        self.create_service(SetBool, '~/enable', self._on_enable, callback_group=control)
        details = tracker_details(self._session.tracker, self._params.checkpoint,
                                  self._params.device, self._params.half)
        period = self._params.diagnostics_period
        self._health = HealthMonitor(f'{self.get_fully_qualified_name()}: tracking',
                                     details['device'], self._image_topic, details,
                                     max(STALE_IMAGE_S, 2.0 * period))
        self._problems = ProblemLog(self.get_logger().name, self._health)
        self.outputs = TrackerOutputs(self, lambda: self.frames_dropped,
                                      lambda: self._health.frames_lost_upstream)
        self._process = FrameProcessor(self._session, self.outputs, self._problems, self._health,
                                       lambda: self._params, self.get_logger())
        self._requests = TargetRequests(self._session, self._frames, self.outputs,
                                        self._problems, lambda: self._params, self.get_logger(),
                                        self._image_topic)
        if period > 0:
            self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
            self.create_timer(period, self.publish_diagnostics, callback_group=control)

    @guarded('diagnostics')
    def publish_diagnostics(self) -> None:
        """Publish the health of the last period on /diagnostics (the timer calls it)."""
        enabled, states = self._session.snapshot()
        status = self._health.report(states, enabled, self.frames_dropped)
        self._diagnostics.publish(DiagnosticArray(
            header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    @property
    def frames_dropped(self) -> int:
        """Frames replaced by newer ones before the tracker got to them."""
        return self._worker.dropped

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        if hasattr(self, '_worker'):   # absent when __init__ failed early
            self._worker.stop()
        super().destroy_node()

    # ---- images -------------------------------------------------------------------------------
    @guarded('image')
    def _on_image(self, msg: Image) -> None:
        self._receive(msg, compressed=False)

    @guarded('image')
    def _on_compressed(self, msg: CompressedImage) -> None:
        self._receive(msg, compressed=True)

    def _receive(self, msg, compressed: bool) -> None:
        self._seq += 1
        frame = ReceivedFrame(msg, self._seq, stamp_to_ns(msg.header.stamp), time.monotonic(),
                              compressed)
        self._health.image_received(frame.stamp_ns)
        self._frames.add(frame)
        self._worker.submit(frame)

    @guarded('frame processing')
    def process_frame(self, frame: ReceivedFrame) -> None:
        """Decode, track and publish one frame (runs on the worker thread)."""
        self._process(frame)

    def callback_failed(self, what: str, text: str, args: tuple) -> None:
        """Report a callback that raised (see callback_guard): a throttled error log, a failure
        on /diagnostics, and a status per target (states unchanged) with the image's header
        when the callback had a message with one."""
        self._problems.error('failed ' + what, text)
        header = next((h for h in (getattr(getattr(a, 'msg', a), 'header', None) for a in args)
                       if isinstance(h, Header)), None) or self._frames.newest_header()
        self.outputs.statuses(header, self._session.states(), text)

    # ---- init, reset, enable ------------------------------------------------------------------
    @guarded('~/init_box')
    def _on_init_box(self, msg: BoundingBox2D) -> None:
        self._requests.start(bbox_to_xywh(msg), '~/init_box')

    @guarded('~/init')
    def _on_init(self, msg: Detection2D) -> None:
        self._requests.start(bbox_to_xywh(msg.bbox), '~/init', msg.header)

    @guarded('~/reset', service_failure)
    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        response.message = self._requests.reset()
        response.success = True
        return response

    @guarded('~/remove_target')
    def _on_remove_target(self, msg: String) -> None:
        self._requests.remove(msg.data.strip())

    @guarded('~/enable', service_failure)
    def _on_enable(self, request: SetBool.Request, response: SetBool.Response):
        self._session.enable(bool(request.data))
        response.success = True
        response.message = 'tracking enabled' if request.data else 'tracking disabled'
        self.get_logger().info(response.message)
        return response

    @guarded('parameter change', parameters_refused)
    def _on_set_parameters(self, changes):
        updated, result = apply_changes(self._params, changes)
        if result.successful:
            self._session.configure(updated.tracker_config(self._session.tracker.config))
            self._params = updated
        return result


def make_executor() -> MultiThreadedExecutor:
    """The executor `main` spins the node with (the node tests spin theirs with it too)."""
    return MultiThreadedExecutor(num_threads=EXECUTOR_THREADS)


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C; returns the process exit code (1 when it cannot start).

    Ctrl-C arrives as KeyboardInterrupt rather than through rclpy's handler, so the context stays
    valid until the callbacks still running have finished and logged (rclpy's handler would shut
    it down at once, and their last log lines would fail to reach /rosout); SIGTERM keeps
    rclpy's handling.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.SIGTERM)
    try:
        node = TrackerNode()
    except Exception as error:  # noqa: BLE001 - any start-up failure is fatal and reported
        rclpy.logging.get_logger('stt_tracker').fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = make_executor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()   # waits for the callbacks still running
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
