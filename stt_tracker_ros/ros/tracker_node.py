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

Each accepted init adds a target (ids '1', '2', ...); with `max_targets` targets present it
replaces the oldest. All targets of a frame run through the model in one batch.

Threading: the image callback only stores the message and hands it to a newest-frame-wins
worker thread (stt_tracker_ros.ros.worker), which decodes, tracks and publishes; init, reset,
enable and parameter callbacks run on the executor in another callback group. One lock guards
the tracker and the targets; a frame not newer than a target's init frame is skipped for all
targets. Bad input is answered with a throttled warning and a TrackStatus
whose `message` says what was wrong; it never stops the node or changes the track. Every callback
(and the worker's step) goes through `callback_guard.guarded`: an exception that escapes one is
logged, counted on /diagnostics and reported on ~/status like bad input, and the node spins on.
"""
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header, String
from std_srvs.srv import SetBool, Trigger
from vision_msgs.msg import BoundingBox2D, Detection2D

from stt_tracker_ros.ros.callback_guard import guarded, parameters_refused, service_failure
from stt_tracker_ros.ros.conversions import bbox_to_xywh, stamp_to_ns
from stt_tracker_ros.ros.diagnostics import HealthMonitor, tracker_details
from stt_tracker_ros.ros.frame_cache import FrameCache, ReceivedFrame
from stt_tracker_ros.ros.image_decoding import (ImageDecodeError, check_image,
                                                compressed_to_rgb, image_to_rgb)
from stt_tracker_ros.ros.outputs import TargetResult, TrackerOutputs
from stt_tracker_ros.ros.parameters import NodeParameters, apply_changes, declare_parameters
from stt_tracker_ros.ros.python_logging import forward_to_ros
from stt_tracker_ros.ros.worker import NewestWorker
from stt_tracker_ros.tracking.result import InvalidBoxError, InvalidFrameError, TrackState

WARN_PERIOD_S = 5.0   # one log line per kind of problem per period
IDLE_LOG_PERIOD_S = 60.0   # the "no target" line: once, then at most once a minute
STALE_IMAGE_S = 2.0   # /diagnostics warns after this long without an image (at least 2 periods)


def default_tracker_factory(params: NodeParameters):
    """Build the real STARK MultiTargetTracker from the node's parameters.

    The model is warmed up with one init and one track on a blank frame (by a throwaway
    tracker, so that target ids still start at '1'), so the first real frame does not pay for
    lazy allocations and kernel selection (seconds on some devices).

    Raises:
        CheckpointError: the checkpoint is missing or unusable.
    """
    # Imported here so that nodes built with an injected tracker never load torch.
    from stt_tracker_ros.tracking.factory import build_multi_target_tracker
    from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
    tracker = build_multi_target_tracker(
        params.checkpoint or None, params.variant or None, params.device, params.half,
        params.tracker_config(), random_weights=params.random_weights,
        cuda_graphs=params.cuda_graphs)
    warm = MultiTargetTracker(tracker.model, tracker.config)
    blank = np.zeros((240, 320, 3), np.uint8)
    warm.add(blank, (140.0, 100.0, 40.0, 40.0))
    warm.track(blank)
    return tracker


@dataclass
class Target:
    """One followed object: its id, the frame it was initialised on, its reported state and
    how many tracking steps in a row failed (`lost_patience` of them make it LOST)."""

    target_id: str
    init_seq: int
    state: TrackState = TrackState.TRACKING
    failed_steps: int = 0


class TrackerNode(Node):
    """The `stt_tracker` node; see the module docstring for its interface."""

    def __init__(self, tracker_factory: Callable[[NodeParameters], object] | None = None,
                 node_name: str = 'stt_tracker', **node_kwargs):
        """Declare parameters, build the tracker, create topics and services.

        Args:
            tracker_factory: builds the tracker from the parameters; default: the STARK model
                from `checkpoint` in a MultiTargetTracker (tests inject doubles with its
                add/remove/clear/track/config).
            node_name: ROS node name.
            **node_kwargs: passed to rclpy.node.Node (namespace, parameter_overrides, ...).

        Raises:
            Exception: whatever the factory raises (CheckpointError names the file).
        """
        super().__init__(node_name, **node_kwargs)
        forward_to_ros(self.get_logger())   # the model code's warnings, as this node's lines
        self._params = declare_parameters(self)
        self._tracker = (tracker_factory or default_tracker_factory)(self._params)
        self._tracker.config = self._params.tracker_config(self._tracker.config)
        self._lock = threading.Lock()          # guards _tracker, _targets, _enabled
        self._targets: dict[str, Target] = {}  # oldest first; the key is the target id
        self._enabled = True
        self._seq = 0
        self._last_warning: dict[str, float] = {}
        self._frames = FrameCache(self._params.frame_cache_size)
        self._worker = NewestWorker(self.process_frame, 'stt-tracker-inference')
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._create_interfaces()
        self.get_logger().info(
            f'ready: images on {self._image_topic}, init box on '
            f'{self.resolve_topic_name("~/init_box")}')

    def _create_interfaces(self) -> None:
        images, control = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        reliability = (ReliabilityPolicy.RELIABLE if self._params.image_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        image_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        base = self.resolve_topic_name('image')   # remaps apply, as in image_transport
        if self._params.use_compressed:
            self._image_topic = base + '/compressed'
            self.image_subscription = self.create_subscription(
                CompressedImage, self._image_topic, self._on_compressed, image_qos,
                callback_group=images)
        else:
            self._image_topic = base
            self.image_subscription = self.create_subscription(
                Image, 'image', self._on_image, image_qos, callback_group=images)
        self.create_subscription(BoundingBox2D, '~/init_box', self._on_init_box, 10,
                                 callback_group=control)
        self.create_subscription(Detection2D, '~/init', self._on_init, 10,
                                 callback_group=control)
        self.create_subscription(String, '~/remove_target', self._on_remove_target, 10,
                                 callback_group=control)
        self.outputs = TrackerOutputs(self, lambda: self._health.frames_lost_upstream)
        self.create_service(Trigger, '~/reset', self._on_reset, callback_group=control)
        self.create_service(SetBool, '~/enable', self._on_enable, callback_group=control)
        self._create_diagnostics(control)

    def _create_diagnostics(self, group) -> None:
        period = self._params.diagnostics_period
        details = tracker_details(self._tracker, self._params.checkpoint, self._params.device,
                                  self._params.half)
        self._health = HealthMonitor(f'{self.get_fully_qualified_name()}: tracking',
                                     details['device'], self._image_topic, details,
                                     max(STALE_IMAGE_S, 2.0 * period))
        if period > 0:
            self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
            self.create_timer(period, self.publish_diagnostics, callback_group=group)

    @guarded('diagnostics')
    def publish_diagnostics(self) -> None:
        """Publish the health of the last period on /diagnostics (the timer calls it)."""
        with self._lock:
            targets = {i: target.state for i, target in self._targets.items()}
            enabled = self._enabled
        status = self._health.report(targets, enabled, self.frames_dropped)
        self._diagnostics.publish(DiagnosticArray(
            header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    @property
    def frames_dropped(self) -> int:
        """Frames replaced by newer ones before the tracker got to them."""
        return self._worker.dropped

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        worker = getattr(self, '_worker', None)   # absent when __init__ failed early
        if worker is not None:
            worker.stop()
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
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._health.image_received(stamp_ns)
        frame = ReceivedFrame(msg, self._seq, stamp_ns, time.monotonic(), compressed)
        self._frames.add(frame)
        self._worker.submit(frame)

    @guarded('frame processing')
    def process_frame(self, frame: ReceivedFrame) -> None:
        """Decode, track and publish one frame (runs on the worker thread)."""
        with self._lock:
            targets = list(self._targets.values()) if self._enabled else []
        if not targets:
            self._publish_idle(frame)
            return
        try:
            rgb = self._decode(frame)
        except ImageDecodeError as error:
            self._warn('image', f'image ignored: {error}')
            self._publish_rejected_frame(frame, targets, f'image ignored: {error}')
            return
        results = self._track(frame, rgb)
        if not results:
            return
        header = frame.msg.header
        self.outputs.frame_results(header, results, self._params.class_id,
                                   self._params.publish_when_lost, self.frames_dropped)
        self._health.frame_tracked(results[0].latency_ms)
        if self.outputs.wants_debug(self._params.debug_image):
            self.outputs.debug(header, rgb, results, self.frames_dropped)

    def _track(self, frame: ReceivedFrame, rgb) -> list[TargetResult]:
        """Run the tracker on `rgb` for every target at once; [] when the frame was not used."""
        with self._lock:
            targets = list(self._targets.values())
            if (not targets or not self._enabled
                    or any(frame.seq <= target.init_seq for target in targets)):
                return []   # reset or disabled meanwhile, or not newer than an init frame
            try:
                results = self._tracker.track(rgb)
            except InvalidFrameError as error:
                self._warn('frame', f'frame ignored: {error}')
                self._publish_rejected_frame(frame, targets, f'frame ignored: {error}')
                return []
            except Exception as error:  # noqa: BLE001 - e.g. a device error: keep running
                self._step_failed(frame, targets, error)
                return []
            changes = [(target, target.state, results[target.target_id]) for target in targets]
            for target, _, result in changes:
                target.state, target.failed_steps = result.state, 0
        latency_ms = (time.monotonic() - frame.received) * 1000.0
        for target, previous, result in changes:
            if previous != result.state:
                self.get_logger().info(
                    f'target {target.target_id}: {previous.name} -> {result.state.name} '
                    f'(confidence {result.confidence:.2f})')
        return [TargetResult(target.target_id, result, latency_ms)
                for target, _, result in changes]

    def _step_failed(self, frame: ReceivedFrame, targets: list[Target],
                     error: Exception) -> None:
        """Report a tracking step that raised (called with the lock held). A step that fails
        `lost_patience` times in a row makes its targets LOST: a failing tracker must not go on
        saying TRACKING."""
        message = f'tracking failed: {type(error).__name__}: {error}'
        self._warn('track', message, error=True)
        for target in targets:
            target.failed_steps += 1
            if (target.state == TrackState.TRACKING
                    and target.failed_steps >= self._params.lost_patience):
                target.state = TrackState.LOST
                self.get_logger().warning(
                    f'target {target.target_id}: TRACKING -> LOST ({target.failed_steps} '
                    f'tracking steps in a row failed)')
        self._publish_rejected_frame(frame, targets, message)

    def _decode(self, frame: ReceivedFrame):
        return compressed_to_rgb(frame.msg) if frame.compressed else image_to_rgb(frame.msg)

    def _publish_idle(self, frame: ReceivedFrame) -> None:
        with self._lock:
            reason = ('tracking disabled (call ~/enable to resume)' if not self._enabled
                      else 'no target: send a box on ~/init_box or ~/init')
        self.get_logger().info(f'{reason}; frames are not tracked',
                               throttle_duration_sec=IDLE_LOG_PERIOD_S)
        if not frame.compressed:
            try:
                check_image(frame.msg)
            except ImageDecodeError as error:
                self._warn('image', f'image unusable: {error}')
                reason = f'{reason}; image unusable: {error}'
        latency_ms = (time.monotonic() - frame.received) * 1000.0
        self.outputs.idle(frame.msg.header, latency_ms, self.frames_dropped, reason)
        if self.outputs.wants_debug(self._params.debug_image):
            try:
                self.outputs.debug(frame.msg.header, self._decode(frame), [],
                                   self.frames_dropped)
            except ImageDecodeError:
                pass   # already reported in the status above

    def _publish_rejected_frame(self, frame: ReceivedFrame, targets: list[Target],
                                message: str) -> None:
        latency_ms = (time.monotonic() - frame.received) * 1000.0
        for target in targets:
            self.outputs.status(frame.msg.header, target.target_id, target.state,
                                self.frames_dropped, message, latency_ms)

    def callback_failed(self, what: str, text: str, args: tuple) -> None:
        """Report a callback that raised (see callback_guard): a throttled error log, a failure
        on /diagnostics, and a status per target (states unchanged) with the image's header
        when the callback had a message with one."""
        self._warn('failed ' + what, text, error=True)
        header = next((h for h in (getattr(getattr(a, 'msg', a), 'header', None) for a in args)
                       if isinstance(h, Header)), None) or self._newest_header()
        with self._lock:
            targets = [(target.target_id, target.state) for target in self._targets.values()]
        for target_id, state in targets or [('', TrackState.IDLE)]:
            self.outputs.status(header, target_id, state, self.frames_dropped, text)

    # ---- init, reset, enable ------------------------------------------------------------------
    @guarded('~/init_box')
    def _on_init_box(self, msg: BoundingBox2D) -> None:
        self._start_target(self._frames.newest(), bbox_to_xywh(msg), '~/init_box', None)

    @guarded('~/init')
    def _on_init(self, msg: Detection2D) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        if stamp_ns == 0:   # unstamped (e.g. typed by hand): use the newest frame
            frame = self._frames.newest()
        else:
            tolerance_ns = int(self._params.init_stamp_tolerance * 1e9)
            frame = self._frames.closest(stamp_ns, tolerance_ns)
            if frame is None and len(self._frames):
                oldest, newest = self._frames.stamp_range()
                self._reject_init(msg.header, 'stamp', f'init rejected: no cached frame within '
                                  f'{self._params.init_stamp_tolerance:g} s of stamp '
                                  f'{stamp_ns / 1e9:.3f} (cached {oldest / 1e9:.3f} .. '
                                  f'{newest / 1e9:.3f})')
                return
        self._start_target(frame, bbox_to_xywh(msg.bbox), '~/init', msg.header)

    def _start_target(self, frame: ReceivedFrame | None, box_xywh, source: str,
                      init_header: Header | None) -> None:
        if frame is None:
            self._reject_init(init_header or Header(), 'no_image',
                              f'init rejected: no image received yet on {self._image_topic}')
            return
        try:
            rgb = self._decode(frame)
        except ImageDecodeError as error:
            self._reject_init(frame.msg.header, 'image',
                              f'init rejected: image unusable: {error}')
            return
        with self._lock:
            try:
                target = Target(self._tracker.add(rgb, box_xywh), frame.seq)
            except (InvalidBoxError, InvalidFrameError) as error:
                rejected = str(error)
            else:
                rejected = None
                self._targets[target.target_id] = target
                replaced = list(self._targets)[:-self._params.max_targets]   # the oldest
                for target_id in replaced:
                    self._tracker.remove(target_id)
                    del self._targets[target_id]
        if rejected is not None:
            self._reject_init(frame.msg.header, 'box', f'init rejected: {rejected}')
            return
        self.get_logger().info(f'target {target.target_id} initialised from {source} on box '
                               f'{tuple(round(float(v), 1) for v in box_xywh)}'
                               + (f', replacing {", ".join(replaced)}' if replaced else ''))
        self.outputs.initialised(frame.msg.header, target.target_id, box_xywh,
                                 self._params.class_id, self.frames_dropped, source)

    def _reject_init(self, header: Header, kind: str, message: str) -> None:
        self._warn('init_' + kind, message)
        with self._lock:
            target = next(iter(self._targets.values()), None)
        self.outputs.status(header, target.target_id if target else '',
                            target.state if target else TrackState.IDLE, self.frames_dropped,
                            message)

    @guarded('~/reset', service_failure)
    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        with self._lock:
            forgotten = list(self._targets)
            self._tracker.clear()   # first: if it fails, the targets stay as they were
            self._targets = {}
        response.success = True
        response.message = (f'target {", ".join(forgotten)} forgotten' if forgotten
                            else 'no target to forget')
        self.get_logger().info(response.message)
        self.outputs.status(self._newest_header(), '', TrackState.IDLE, self.frames_dropped,
                            'reset: ' + response.message)
        return response

    @guarded('~/remove_target')
    def _on_remove_target(self, msg: String) -> None:
        target_id = msg.data.strip()
        with self._lock:
            removed = self._targets.pop(target_id, None) is not None
            if removed:
                self._tracker.remove(target_id)
            remaining = ', '.join(self._targets) or 'none'
        if removed:
            message = f'target {target_id} removed'
            self.get_logger().info(message)
        else:
            message = f'remove_target ignored: no target {target_id!r} (targets: {remaining})'
            self._warn('remove', message)
        self.outputs.status(self._newest_header(), target_id, TrackState.IDLE,
                            self.frames_dropped, message)

    def _newest_header(self) -> Header:
        newest = self._frames.newest()
        return newest.msg.header if newest else Header()

    @guarded('~/enable', service_failure)
    def _on_enable(self, request: SetBool.Request, response: SetBool.Response):
        with self._lock:
            self._enabled = bool(request.data)
        response.success = True
        response.message = 'tracking enabled' if request.data else 'tracking disabled'
        self.get_logger().info(response.message)
        return response

    # ---- parameters and logging ---------------------------------------------------------------
    @guarded('parameter change', parameters_refused)
    def _on_set_parameters(self, changes):
        updated, result = apply_changes(self._params, changes)
        if result.successful:
            with self._lock:
                self._params = updated
                self._tracker.config = updated.tracker_config(self._tracker.config)
        return result

    def _warn(self, kind: str, text: str, error: bool = False) -> None:
        """Log `text` unless a line of the same `kind` was logged in the last WARN_PERIOD_S;
        every problem also counts in the next /diagnostics report."""
        self._health.problem(text, failure=error)
        now = time.monotonic()
        if now - self._last_warning.get(kind, -WARN_PERIOD_S) < WARN_PERIOD_S:
            return
        self._last_warning[kind] = now
        # rclpy ties a severity to each logging call site, hence two separate calls.
        if error:
            self.get_logger().error(text)
        else:
            self.get_logger().warning(text)


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C; returns the process exit code (1 when it cannot start)."""
    rclpy.init(args=args)
    try:
        node = TrackerNode()
    except Exception as error:  # noqa: BLE001 - any start-up failure is fatal and reported
        rclpy.logging.get_logger('stt_tracker').fatal(f'cannot start: {error}')
        rclpy.try_shutdown()
        return 1
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
