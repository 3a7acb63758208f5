"""/diagnostics: the health monitor's levels and figures (fake clock), and the node's reports
over DDS."""
import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402

from stt_tracker_ros.config import network_config  # noqa: E402
from stt_tracker_ros.model.stark import build_stark  # noqa: E402
from stt_tracker_ros.ros.diagnostics import HealthMonitor, tracker_details  # noqa: E402
from stt_tracker_ros.tracking.result import TrackState  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 9
TRACKING, LOST = TrackState.TRACKING, TrackState.LOST


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def monitor(clock):
    return HealthMonitor('/cam/stt_tracker: tracking', 'cuda:0', '/cam/image', {'model': 'M'},
                         stale_after_s=2.0, clock=clock)


def feed(monitor, clock, frames: int, hz: float, latency_ms: float = 0.0) -> None:
    """`frames` images `1/hz` s apart, each tracked with `latency_ms` (0: not tracked)."""
    for _ in range(frames):
        clock.now += 1.0 / hz
        monitor.image_received()
        if latency_ms:
            monitor.frame_tracked(latency_ms)


def test_rates_latency_and_a_fresh_period_per_report(monitor, clock):
    for latency in (10.0, 30.0, 20.0, 50.0):
        feed(monitor, clock, 5, hz=20.0, latency_ms=latency)   # 20 frames in 1 s
    status = monitor.report({'1': TRACKING}, enabled=True, frames_dropped=3)
    assert status.level == DiagnosticStatus.OK
    assert status.message == 'tracking 1 target(s) at 20.0 Hz'
    assert (status.name, status.hardware_id) == ('/cam/stt_tracker: tracking', 'cuda:0')
    shown = values(status)
    assert shown['input rate (Hz)'] == '20.0' and shown['tracking rate (Hz)'] == '20.0'
    assert shown['latency median (ms)'] == '25.0' and shown['latency max (ms)'] == '50.0'
    assert shown['frames dropped (total)'] == '3' and shown['targets'] == '1: TRACKING'
    assert shown['model'] == 'M' and shown['image topic'] == '/cam/image'

    feed(monitor, clock, 10, hz=10.0)   # images but nothing tracked: only input counts
    shown = values(monitor.report({}, enabled=True, frames_dropped=3))
    assert shown['input rate (Hz)'] == '10.0' and shown['tracking rate (Hz)'] == '0.0'
    assert shown['latency median (ms)'] == '' and shown['targets'] == 'none'


def test_silent_camera_warns(monitor, clock):
    clock.now += 0.5
    idle = monitor.report({}, enabled=True, frames_dropped=0)
    assert idle.level == DiagnosticStatus.OK and idle.message.startswith('idle')
    clock.now += 2.0
    never = monitor.report({}, enabled=True, frames_dropped=0)
    assert never.level == DiagnosticStatus.WARN
    assert 'no image received on /cam/image yet' in never.message
    feed(monitor, clock, 3, hz=10.0)
    assert monitor.report({}, True, 0).level == DiagnosticStatus.OK
    clock.now += 3.0
    stopped = monitor.report({'1': TRACKING}, True, 0)
    assert stopped.level == DiagnosticStatus.WARN
    assert stopped.message == 'no image on /cam/image for 3.0 s'


def test_lost_rejected_and_failed_levels(monitor, clock):
    feed(monitor, clock, 5, hz=10.0, latency_ms=5.0)
    lost = monitor.report({'1': TRACKING, '2': LOST}, True, 0)
    assert lost.level == DiagnosticStatus.WARN and lost.message == 'target 2 LOST'

    feed(monitor, clock, 2, hz=10.0)
    monitor.problem('image ignored: unsupported encoding yuv422')
    monitor.problem('init rejected: box has zero width')
    rejected = monitor.report({'1': TRACKING}, True, 0)
    assert rejected.level == DiagnosticStatus.WARN
    assert rejected.message == '2 input(s) rejected: init rejected: box has zero width'

    feed(monitor, clock, 2, hz=10.0)
    monitor.problem('tracking failed: RuntimeError: CUDA error', failure=True)
    failed = monitor.report({'1': LOST}, True, 0)   # a failure outranks LOST
    assert failed.level == DiagnosticStatus.ERROR
    assert failed.message == '1 tracking step(s) failed: tracking failed: RuntimeError: CUDA error'

    feed(monitor, clock, 2, hz=10.0)
    recovered = monitor.report({'1': TRACKING}, True, 0)
    assert recovered.level == DiagnosticStatus.OK   # problems belong to their period only
    assert values(recovered)['last problem'].startswith('tracking failed')
    feed(monitor, clock, 2, hz=10.0)
    disabled = monitor.report({'1': TRACKING}, enabled=False, frames_dropped=0)
    assert (disabled.level, disabled.message) == (DiagnosticStatus.OK,
                                                  'disabled through ~/enable')


def test_details_name_the_model_and_its_device():
    class Holder:
        model = build_stark(network_config('config/models/stark_st_lite.yaml'))

    details = tracker_details(Holder(), '', 'auto', half=False)
    assert details == {'model': 'STARK-ST_LITE', 'checkpoint': 'default model of the package',
                       'device': 'cpu', 'precision': 'float32'}
    assert tracker_details(object(), 'x.pth', 'cuda', True)['device'] == 'cuda'


def test_node_reports_on_diagnostics(tracker_rig, scripted_tracker, image_factory, wait_until):
    node, probe = tracker_rig(scripted_tracker, diagnostics_period=0.2)
    mine = f'{probe.base}: tracking'
    reports = []
    probe.node.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: reports.extend(s for s in msg.status if s.name == mine), 10)

    def next_report(predicate):
        start = len(reports)
        assert wait_until(lambda: any(predicate(s) for s in reports[start:])), reports[-3:]
        return next(s for s in reports[start:] if predicate(s))

    never = next_report(lambda s: s.level == DiagnosticStatus.WARN)
    assert 'no image received' in never.message and probe.namespace + '/image' in never.message

    probe.image_pub.publish(image_factory(1))
    assert wait_until(lambda: len(probe.messages('status')) >= 1)
    probe.init_box_pub.publish(_bbox(25.0, 19.0, 10.0, 8.0))
    probe.wait_status(lambda s: s.message.startswith('initialised'))
    for index in range(2, 6):
        probe.image_pub.publish(image_factory(index))
    tracking = next_report(lambda s: s.message.startswith('tracking 1 target'))
    assert tracking.level == DiagnosticStatus.OK and values(tracking)['targets'] == '1: TRACKING'

    probe.init_box_pub.publish(_bbox(25.0, 19.0, 0.0, 8.0))   # zero width
    rejected = next_report(lambda s: 'rejected' in s.message)
    assert rejected.level == DiagnosticStatus.WARN and 'init rejected' in rejected.message


def _bbox(cx, cy, w, h):
    from vision_msgs.msg import BoundingBox2D

    box = BoundingBox2D()
    box.center.position.x, box.center.position.y = cx, cy
    box.size_x, box.size_y = w, h
    return box
