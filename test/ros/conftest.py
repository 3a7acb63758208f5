"""Fixtures for the ROS tests: an rclpy session per module, tracker doubles, a probe node.

Every module that uses `ros_session` gets its own ROS_DOMAIN_ID (from the process id and the
module's `DOMAIN_OFFSET`), discovery limited to this host, and the executor the node's `main`
spins (`tracker_node.make_executor`, a MultiThreadedExecutor) spinning in a background thread
(`Spinner`). Tests talk to the node under test over real DDS through `Probe`.
"""
import os
import threading
import time

import numpy as np
import pytest

WAIT_S = 10.0   # generous upper bound for anything that should happen in milliseconds


def domain_id_for(offset: int) -> int:
    """A domain in 1..100, distinct per module of one run and unlikely to match another run."""
    return 1 + (os.getpid() * 7 + offset) % 100


class Spinner:
    """Spins the nodes of a test module in a background thread; nodes leave only between spins.

    rclpy cannot destroy a node while another thread builds the executor's wait set, or while
    one of its callbacks still runs: the spin thread then dies with InvalidHandle
    (ros2/rclpy#1142, #1355), and every later test of the module waits in vain. A
    MultiThreadedExecutor runs callbacks on a thread pool, beyond its `spin_once`. `discard`
    therefore pauses the spinning and shuts the executor down, which waits for the callbacks
    still running; it then destroys the nodes and spins the others on a new executor.
    """

    def __init__(self, make_executor):
        """Spin on executors made by `make_executor()`."""
        self._make_executor = make_executor
        self.executor = make_executor()
        self._nodes = []
        self._spinning = threading.Lock()   # held for the duration of one spin_once
        self._hold = threading.Event()      # set while a discard waits for the lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            if self._hold.is_set():
                time.sleep(0.001)
                continue
            with self._spinning:
                self.executor.spin_once(timeout_sec=0.02)

    def add_node(self, node) -> None:
        """Let the executor serve `node`."""
        self._nodes.append(node)
        self.executor.add_node(node)

    def discard(self, *nodes) -> None:
        """Destroy `nodes` with no spin and none of their callbacks in progress."""
        self._hold.set()
        try:
            with self._spinning:
                self.executor.shutdown()   # waits for the callbacks still running
                for node in nodes:
                    self._nodes.remove(node)
                    node.destroy_node()
                self.executor = self._make_executor()
                for node in self._nodes:
                    self.executor.add_node(node)
        finally:
            self._hold.clear()

    def shutdown(self) -> None:
        """Stop the spin thread and the executor."""
        self._stop.set()
        self._thread.join(5.0)
        self.executor.shutdown()


@pytest.fixture(scope='module')
def ros_session(request):
    """rclpy initialised on the module's own domain, with a spinning executor; yields a Spinner."""
    rclpy = pytest.importorskip('rclpy')
    from stt_tracker_ros.ros.tracker_node import make_executor

    domain = domain_id_for(getattr(request.module, 'DOMAIN_OFFSET', 0))
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_LOCALHOST_ONLY'] = '1'
    rclpy.init(domain_id=domain)
    spinner = Spinner(make_executor)
    yield spinner
    spinner.shutdown()
    rclpy.try_shutdown()


def wait_for(predicate, timeout: float = WAIT_S, period: float = 0.01) -> bool:
    """Poll `predicate` until it is true; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


class ScriptedTracker:
    """Fast tracker double with the real tracker's input checks and state machine.

    The box moves by `step` pixels per tracked frame; `confidence` is returned as is and the
    state follows `config.lost_threshold` / `config.lost_patience` like StarkTracker. Every
    frame's top-left pixel value is recorded, so tests can tell which frame was used.
    """

    def __init__(self, confidence: float = 0.9, step=(2.0, 1.0), delay: float = 0.0):
        from stt_tracker_ros.config import TrackerConfig
        from stt_tracker_ros.tracking.result import TrackState

        self.config = TrackerConfig()
        self.confidence = confidence
        self.step = step
        self.delay = delay
        self.fail_with: Exception | None = None   # raised once by the next track()
        self.init_markers: list[int] = []
        self.tracked_markers: list[int] = []
        self._states = TrackState
        self.reset()

    @property
    def state(self):
        """IDLE, TRACKING or LOST, as StarkTracker.state."""
        return self._state

    def reset(self) -> None:
        """Forget the target."""
        self._state = self._states.IDLE
        self.box = None
        self._shape = None
        self._low = 0
        self._index = 0

    def initialize(self, frame: np.ndarray, box_xywh) -> None:
        """Validate like StarkTracker (same exceptions), then start at `box_xywh`."""
        from stt_tracker_ros.tracking.boxes import validate_init_box
        from stt_tracker_ros.tracking.tracker import check_frame

        height, width = check_frame(frame)
        box = validate_init_box(box_xywh, height, width)
        self.reset()
        self.box, self._shape, self._state = box, (height, width), self._states.TRACKING
        self.init_markers.append(int(frame[0, 0, 0]))

    def check(self, frame: np.ndarray) -> None:
        """Raise what track() would raise for `frame` (misuse, size change), change nothing."""
        from stt_tracker_ros.tracking.result import InvalidFrameError
        from stt_tracker_ros.tracking.tracker import check_frame

        if self._state == self._states.IDLE:
            raise RuntimeError('track() called before initialize()')
        if check_frame(frame) != self._shape:
            raise InvalidFrameError(f'frame size changed from {self._shape} to '
                                    f'{frame.shape[:2]} mid-track; re-initialise')

    def track(self, frame: np.ndarray):
        """Move the box by `step`; raise like StarkTracker on misuse or a size change."""
        from stt_tracker_ros.tracking.result import TrackResult

        self.check(frame)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        if self.delay:
            time.sleep(self.delay)
        x, y, w, h = self.box
        self.box = (x + self.step[0], y + self.step[1], w, h)
        self._index += 1
        if self.confidence >= self.config.lost_threshold:
            self._low, self._state = 0, self._states.TRACKING
        else:
            self._low += 1
            if self._low >= self.config.lost_patience:
                self._state = self._states.LOST
        self.tracked_markers.append(int(frame[0, 0, 0]))
        return TrackResult(self.box, self.confidence, self._state, False, self._index)


class ScriptedTargets:
    """MultiTargetTracker double: one ScriptedTracker per target, made by `make_target`.

    The books are the real tracker's (`TargetSet`): ids '1', '2', ... never reused, a rejected
    init consumes no id, `max_targets` evicts the oldest, a step that raises counts towards
    LOST. Like the real one, a bad frame raises before any target moves and `config` applies to
    every target. `clear` also resets each target's tracker, so tests can see that a reset
    reached them.
    """

    def __init__(self, make_target):
        from stt_tracker_ros.config import TrackerConfig
        from stt_tracker_ros.tracking.target_set import TargetSet

        self._make = make_target
        self._config = TrackerConfig()
        self._targets = TargetSet()

    @property
    def config(self):
        """Settings shared by all targets."""
        return self._config

    @config.setter
    def config(self, config) -> None:
        self._config = config
        for tracker in self._targets.values():
            tracker.config = config

    @property
    def max_targets(self) -> int | None:
        """Targets followed at once (None: no limit)."""
        return self._targets.max_targets

    @max_targets.setter
    def max_targets(self, max_targets: int | None) -> None:
        self._targets.max_targets = max_targets

    @property
    def target_ids(self) -> list[str]:
        """Ids of the current targets, oldest first."""
        return self._targets.ids

    @property
    def states(self) -> dict:
        """Each target's state by id, as MultiTargetTracker.states."""
        return self._targets.states(self._config.lost_patience)

    def add(self, frame: np.ndarray, box_xywh) -> str:
        """Initialise a new target's tracker (its exceptions pass through); returns the id."""
        tracker = self._make()
        tracker.config = self._config
        tracker.initialize(frame, box_xywh)
        return self._targets.add(tracker)

    def remove(self, target_id: str) -> None:
        """Forget one target (KeyError if unknown)."""
        self._targets.remove(target_id)

    def clear(self) -> None:
        """Reset and forget every target."""
        for tracker in self._targets.values():
            tracker.reset()
        self._targets.clear()

    def track(self, frame: np.ndarray) -> dict:
        """Every target's result on `frame`; a bad frame raises before any target moves."""
        def step() -> dict:
            for tracker in self._targets.values():
                tracker.check(frame)
            return {i: tracker.track(frame) for i, tracker in self._targets.items()}
        return self._targets.step(step)


@pytest.fixture
def scripted_tracker():
    """A fresh fast ScriptedTracker."""
    return ScriptedTracker()


@pytest.fixture
def tracker_class():
    """The ScriptedTracker class, for tests that need non-default settings."""
    return ScriptedTracker


def make_image(marker: int, width: int = 64, height: int = 48, encoding: str = 'rgb8',
               stamp_ns: int = 0, frame_id: str = 'camera'):
    """An Image filled with `marker`, in `encoding` (rgb8, bgr8, mono8, rgba8, bgra8)."""
    from sensor_msgs.msg import Image

    channels = {'mono8': 1, 'rgba8': 4, 'bgra8': 4}.get(encoding, 3)
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.step = width * channels
    msg.data = np.full(height * width * channels, marker, np.uint8).tobytes()
    return msg


@pytest.fixture
def targets_class():
    """The ScriptedTargets class (MultiTargetTracker double)."""
    return ScriptedTargets


@pytest.fixture
def image_factory():
    """make_image, as a fixture."""
    return make_image


class Probe:
    """The outside world of one node under test: publishes inputs, records every output."""

    def __init__(self, spinner: Spinner, node_ns: str, image_reliability: str = 'reliable',
                 debug: bool = False):
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import SetBool, Trigger
        from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray

        from stt_tracker_ros.msg import TrackStatus

        self.node = Node('probe', namespace=node_ns)
        self.namespace = node_ns
        self.base = f'{node_ns}/stt_tracker'
        reliability = (ReliabilityPolicy.RELIABLE if image_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        self.image_pub = self.node.create_publisher(
            Image, f'{node_ns}/image', QoSProfile(depth=10, reliability=reliability))
        self.init_box_pub = self.node.create_publisher(BoundingBox2D, f'{self.base}/init_box', 10)
        self.init_pub = self.node.create_publisher(Detection2D, f'{self.base}/init', 10)
        self.remove_pub = self.node.create_publisher(String, f'{self.base}/remove_target', 10)
        self.lock = threading.Lock()
        self.received = {'detection': [], 'detections': [], 'status': [], 'debug_image': []}
        topics = [('detection', Detection2D), ('detections', Detection2DArray),
                  ('status', TrackStatus)]
        if debug:
            topics.append(('debug_image', Image))
        for name, kind in topics:
            self.node.create_subscription(kind, f'{self.base}/{name}',
                                          self._recorder(name), 10)
        self.reset_client = self.node.create_client(Trigger, f'{self.base}/reset')
        self.enable_client = self.node.create_client(SetBool, f'{self.base}/enable')
        self.spinner = spinner
        spinner.add_node(self.node)

    def _recorder(self, name: str):
        def record(msg) -> None:
            with self.lock:
                self.received[name].append(msg)
        return record

    def messages(self, name: str) -> list:
        """A copy of what arrived on output `name` so far."""
        with self.lock:
            return list(self.received[name])

    def wait_count(self, name: str, count: int, timeout: float = WAIT_S) -> list:
        """Wait until `count` messages arrived on `name`; returns them (fails the test if not)."""
        assert wait_for(lambda: len(self.messages(name)) >= count, timeout), \
            f'{len(self.messages(name))} of {count} {name} messages arrived'
        return self.messages(name)

    def wait_status(self, predicate, timeout: float = WAIT_S):
        """The first status satisfying `predicate` (fails the test if none arrives)."""
        found = []
        wait_for(lambda: found.extend(s for s in self.messages('status') if predicate(s))
                 or bool(found), timeout)
        assert found, f'no matching status among {self.messages("status")[-5:]}'
        return found[0]

    def wait_connected(self, tracker_node, image: bool = True) -> None:
        """Wait for discovery in both directions (of the image topic too when `image`)."""
        # Both ends must match: a best-effort reader drops what arrives before it matched.
        # (Subscription.get_publisher_count exists from Jazzy on.)
        reader = getattr(tracker_node.image_subscription, 'get_publisher_count', lambda: 1)
        assert wait_for(lambda: (not image or self.image_pub.get_subscription_count() > 0
                                 and reader() > 0)
                        and self.init_box_pub.get_subscription_count() > 0
                        and self.init_pub.get_subscription_count() > 0
                        and self.remove_pub.get_subscription_count() > 0
                        and tracker_node.outputs.status_subscribers() > 0
                        and self.reset_client.service_is_ready()
                        and self.enable_client.service_is_ready())

    def call(self, client, request, timeout: float = WAIT_S):
        """Call a service and return the response."""
        future = client.call_async(request)
        assert wait_for(future.done, timeout), 'service call timed out'
        return future.result()

    def destroy(self) -> None:
        """Remove the probe from the executor and destroy it."""
        self.spinner.discard(self.node)


_NAMESPACES = iter(range(1, 1_000_000))


@pytest.fixture
def tracker_rig(ros_session):
    """Factory: (tracker double or None, options, node parameters) -> (TrackerNode, Probe).

    The double is a ScriptedTargets, or a ScriptedTracker that then serves every target (for
    tests with one target at a time). Options: probe_reliability of the probe's image
    publisher, debug (record ~/debug_image), connect_image (wait for the image topic to match).
    Both nodes are destroyed afterwards.
    """
    from rclpy.parameter import Parameter

    from stt_tracker_ros.ros.tracker_node import TrackerNode

    made = []

    def build(tracker, probe_reliability: str = 'reliable', debug: bool = False,
              connect_image: bool = True, **params):
        # The process id keeps topics apart even if another run shares the domain id.
        namespace = f'/rig{os.getpid()}_{next(_NAMESPACES)}'
        overrides = [Parameter(name, value=value) for name, value in params.items()]
        if isinstance(tracker, ScriptedTracker):
            tracker = ScriptedTargets(lambda single=tracker: single)
        factory = None if tracker is None else (lambda _: tracker)   # None: the real model
        node = TrackerNode(tracker_factory=factory, namespace=namespace,
                           parameter_overrides=overrides)
        ros_session.add_node(node)
        probe = Probe(ros_session, namespace, probe_reliability, debug)
        made.append((node, probe))
        probe.wait_connected(node, connect_image)
        return node, probe

    yield build
    for node, probe in made:
        probe.destroy()
        ros_session.discard(node)


@pytest.fixture
def wait_until():
    """wait_for(predicate, timeout=WAIT_S) -> bool, as a fixture."""
    return wait_for
