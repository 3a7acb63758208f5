"""Frames lost before the node, estimated from the image stamps: the estimator, its figures on
/diagnostics, and TrackStatus.frames_lost_upstream over DDS."""
import numpy as np
import pytest

pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from stt_tracker_ros.ros.diagnostics import HealthMonitor  # noqa: E402
from stt_tracker_ros.ros.upstream_loss import UpstreamLossEstimator  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 14
BASE_NS = 1_700_000_000 * 10 ** 9
PERIOD_NS = 33_333_333   # 30 Hz


def feed(estimator, stamps) -> list[int]:
    return [estimator.add(int(stamp)) for stamp in stamps]


def test_skipped_stamps_are_counted_where_they_happen():
    estimator = UpstreamLossEstimator()
    kept = [i for i in range(40) if i not in (20, 30, 31, 32)]
    losses = feed(estimator, (BASE_NS + i * PERIOD_NS for i in kept))
    assert estimator.lost == 4 and losses[kept.index(21)] == 1 and losses[kept.index(33)] == 3
    assert estimator.interval_ns == PERIOD_NS


def test_half_of_the_frames_lost_at_random_with_jittered_stamps():
    # The case: about 54 % of 30 Hz frames never arrive. A median of the stamp
    # differences would take two intervals for one and count half of the loss.
    rng = np.random.default_rng(1)
    sent = BASE_NS + np.arange(3000) * PERIOD_NS + rng.integers(-2_000_000, 2_000_000, 3000)
    received = sent[rng.random(3000) >= 0.54]
    estimator = UpstreamLossEstimator()
    feed(estimator, received)
    truly_lost = int(received[-1] - received[0] + PERIOD_NS // 2) // PERIOD_NS + 1 \
        - len(received)
    assert estimator.lost == pytest.approx(truly_lost, rel=0.05)


@pytest.mark.parametrize('stamps', [
    [0] * 50,                                                       # unstamped
    [BASE_NS + (i % 10) * PERIOD_NS for i in range(50)],            # a bag played in a loop
    [BASE_NS + (i // 2) * PERIOD_NS for i in range(50)],            # every frame twice
    [BASE_NS + i * PERIOD_NS + (i >= 25) * 5 * 10 ** 9 for i in range(50)],   # a 5 s pause
    [BASE_NS + i * 1000 + (i % 7 == 0) * 10 ** 9 for i in range(50)],  # 1 us apart: no camera
])
def test_stamps_that_do_not_mean_loss_count_none(stamps):
    estimator = UpstreamLossEstimator()
    assert sum(feed(estimator, stamps)) == 0 and estimator.lost == 0


def test_random_stamps_give_a_bounded_estimate():
    rng = np.random.default_rng(2)
    estimator = UpstreamLossEstimator()
    stamps = rng.integers(-2 ** 62, 2 ** 62, 500).tolist() + [2 ** 63 - 1, 1, -1]
    assert all(0 <= lost <= 2000 for lost in feed(estimator, stamps))


def test_diagnostics_report_the_loss_and_warn_above_a_tenth():
    clock = [100.0]
    monitor = HealthMonitor('n: tracking', 'cpu', '/cam/image', {}, stale_after_s=2.0,
                            clock=lambda: clock[0])

    def period(frames, lost_every: int = 0):
        for i in frames:
            clock[0] += 0.033
            if not lost_every or i % lost_every:
                monitor.image_received(BASE_NS + i * PERIOD_NS)
        return monitor.report({}, True, 0)

    assert period(range(20)).level == DiagnosticStatus.OK   # learns the interval
    report = period(range(20, 50), lost_every=3)            # 21, 24, ... 48 never arrive
    values = {kv.key: kv.value for kv in report.values}
    assert report.level == DiagnosticStatus.WARN
    assert report.message.startswith('10 of 30 frames sent on /cam/image never arrived')
    assert values['frames lost upstream (total, estimated)'] == '10'
    assert values['image stamp interval (ms)'] == '33.3'
    assert monitor.frames_lost_upstream == 10
    assert period(range(50, 80)).level == DiagnosticStatus.OK


def test_status_carries_the_loss(tracker_rig, scripted_tracker, image_factory):
    node, probe = tracker_rig(scripted_tracker)
    seen = []
    for i in [i for i in range(1, 30) if i not in (12, 13, 14, 22)]:
        stamp = BASE_NS + i * PERIOD_NS
        probe.image_pub.publish(image_factory(i, stamp_ns=stamp))
        status = probe.wait_status(
            lambda s: s.header.stamp.sec * 10 ** 9 + s.header.stamp.nanosec == stamp)
        seen.append((i, status.frames_lost_upstream))
    assert dict(seen)[11] == 0 and dict(seen)[15] == 3 and dict(seen)[29] == 4
