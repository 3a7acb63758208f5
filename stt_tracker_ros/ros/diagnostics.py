"""The tracker node's health on /diagnostics, as ROS 2 drivers report theirs.

`HealthMonitor` counts, between two reports, the frames received and tracked, their latencies,
the frames lost before the node (estimated from the image stamps, `upstream_loss`) and the
problems met (rejected input, failed tracking steps). `report` turns one such period and
the targets' current states into a `diagnostic_msgs/DiagnosticStatus`; the node publishes it in a
`DiagnosticArray` on `/diagnostics` every `diagnostics_period` seconds, where rqt_robot_monitor,
the diagnostic aggregator and `ros2 topic echo` read it. Levels:

  ERROR  a tracking step failed in this period (e.g. a device error; the node keeps running)
  WARN   no image arrived for longer than the stale time (or none yet: check the remap),
         a target is LOST, at least LOSS_WARN_FRACTION of the frames the camera sent in this
         period never arrived, or some input was rejected in this period
  OK     otherwise; the message says what the node is doing
"""
import statistics
import threading
import time
from collections.abc import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from stt_tracker_ros.ros.upstream_loss import UpstreamLossEstimator
from stt_tracker_ros.tracking.result import TrackState

LOSS_WARN_FRACTION = 0.1   # WARN when this share of the frames sent in a period was lost


def tracker_details(tracker, checkpoint: str, device: str, half: bool) -> dict[str, str]:
    """What the tracker runs, as diagnostic key/values (model, checkpoint, device, precision)."""
    model = getattr(tracker, 'model', None)   # a StarkBackend; doubles in tests have none
    config = getattr(model, 'config', None)
    return {
        'model': f'STARK-{config.name.upper()}' if config is not None else 'unknown',
        'checkpoint': checkpoint or 'default model of the package',
        'device': str(model.device) if model is not None else device,
        'precision': 'half' if half else 'float32',
    }


class HealthMonitor:
    """Collects the node's activity between reports (thread-safe: the image callback, the
    inference worker and the diagnostics timer all call it)."""

    def __init__(self, name: str, hardware_id: str, image_topic: str,
                 details: Mapping[str, str], stale_after_s: float,
                 clock: Callable[[], float] = time.monotonic):
        """
        Args:
            name: DiagnosticStatus.name, e.g. 'stt_tracker: tracking'.
            hardware_id: DiagnosticStatus.hardware_id (the device the model runs on).
            image_topic: the subscribed image topic, named in the messages.
            details: fixed key/values appended to every report (see `tracker_details`).
            stale_after_s: seconds without an image before the report warns.
            clock: monotonic time in seconds (tests pass their own).
        """
        self._name, self._hardware_id, self._topic = name, hardware_id, image_topic
        self._details = dict(details)
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._started = self._period_start = clock()
        self._last_image: float | None = None
        self._received = self._tracked = self._rejected = self._failed = self._lost = 0
        self._latencies_ms: list[float] = []
        self._last_problem = ''
        self._loss = UpstreamLossEstimator()

    def image_received(self, stamp_ns: int = 0) -> None:
        """An image message arrived (tracked or not); `stamp_ns` is its header stamp (0: none)."""
        with self._lock:
            self._received += 1
            self._last_image = self._clock()
            self._lost += self._loss.add(stamp_ns)

    @property
    def frames_lost_upstream(self) -> int:
        """Frames the camera sent that never arrived, since start (an estimate from stamps)."""
        with self._lock:
            return self._loss.lost

    def frame_tracked(self, latency_ms: float) -> None:
        """A frame went through the tracker; `latency_ms` from receipt to publication."""
        with self._lock:
            self._tracked += 1
            self._latencies_ms.append(latency_ms)

    def problem(self, text: str, failure: bool = False) -> None:
        """Input was rejected (`failure` False) or a tracking step failed (True)."""
        with self._lock:
            if failure:
                self._failed += 1
            else:
                self._rejected += 1
            self._last_problem = text

    def report(self, targets: Mapping[str, TrackState], enabled: bool,
               frames_dropped: int) -> DiagnosticStatus:
        """The status of the period since the last report, which starts a new period.

        Args:
            targets: the current targets' states by id.
            enabled: False while tracking is switched off through ~/enable.
            frames_dropped: total frames replaced by newer ones since start.
        """
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._period_start, 1e-9)
            period = (self._received / elapsed, self._tracked / elapsed,
                      list(self._latencies_ms), self._rejected, self._failed)
            received, lost_upstream, lost_total = self._received, self._lost, self._loss.lost
            interval_ns = self._loss.interval_ns
            silent_s = now - (self._last_image if self._last_image is not None
                              else self._started)
            seen_image = self._last_image is not None
            last_problem = self._last_problem
            self._period_start = now
            self._received = self._tracked = self._rejected = self._failed = self._lost = 0
            self._latencies_ms.clear()
        input_hz, tracked_hz, latencies, rejected, failed = period
        lost = [i for i, state in targets.items() if state == TrackState.LOST]
        if failed:
            level, message = DiagnosticStatus.ERROR, (
                f'{failed} tracking step(s) failed: {last_problem}')
        elif silent_s > self._stale_after_s:
            level, message = DiagnosticStatus.WARN, (
                f'no image on {self._topic} for {silent_s:.1f} s' if seen_image
                else f'no image received on {self._topic} yet (check the remapping)')
        elif lost:
            level, message = DiagnosticStatus.WARN, f'target {", ".join(lost)} LOST'
        elif lost_upstream and lost_upstream >= LOSS_WARN_FRACTION * (received + lost_upstream):
            level, message = DiagnosticStatus.WARN, (
                f'{lost_upstream} of {received + lost_upstream} frames sent on {self._topic} '
                'never arrived (estimated from the stamps; see the README on DDS transports)')
        elif rejected:
            level, message = DiagnosticStatus.WARN, (
                f'{rejected} input(s) rejected: {last_problem}')
        elif not enabled:
            level, message = DiagnosticStatus.OK, 'disabled through ~/enable'
        elif targets:
            level, message = DiagnosticStatus.OK, (
                f'tracking {len(targets)} target(s) at {tracked_hz:.1f} Hz')
        else:
            level, message = DiagnosticStatus.OK, 'idle: waiting for an init box'
        values = {
            'image topic': self._topic,
            'input rate (Hz)': f'{input_hz:.1f}',
            'tracking rate (Hz)': f'{tracked_hz:.1f}',
            'latency median (ms)': f'{statistics.median(latencies):.1f}' if latencies else '',
            'latency max (ms)': f'{max(latencies):.1f}' if latencies else '',
            'frames dropped (total)': str(frames_dropped),
            'frames lost upstream (total, estimated)': str(lost_total),
            'image stamp interval (ms)': f'{interval_ns / 1e6:.1f}' if interval_ns else '',
            'targets': ', '.join(f'{i}: {s.name}' for i, s in targets.items()) or 'none',
            'last problem': last_problem,
            **self._details,
        }
        return DiagnosticStatus(
            level=level, name=self._name, message=message, hardware_id=self._hardware_id,
            values=[KeyValue(key=k, value=v) for k, v in values.items()])
