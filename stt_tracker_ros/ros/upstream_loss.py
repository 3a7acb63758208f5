"""Frames lost before the node, estimated from gaps in the image stamps.

A camera stamps its frames at a steady interval. When the stamp of a received frame is k usual
intervals after the previous one, k - 1 frames were sent but never arrived: lost by DDS (best
effort), by the network, or by the driver. The node cannot see those frames, only the gaps.

The usual interval is a low quantile of the recent positive stamp differences: with frames
lost at random, the most common difference is still the true interval as long as fewer than
`1 - QUANTILE` (80 %) of the frames are lost, and a low quantile is not pulled up by the gaps
the way a median is. Stamps that repeat or go backwards (a bag played in a loop, a restarted
driver), zero stamps (unstamped images), gaps longer than `pause_s` (the source paused or was
switched) and usual intervals under 1 ms (no camera stream: stamps that mean something else)
count no loss, so a single gap never counts more than `pause_s` / 1 ms frames.
"""
import collections

QUANTILE = 0.2       # which quantile of the recent differences is taken as the usual interval
MIN_HISTORY = 8      # differences needed before any loss is estimated
HISTORY = 64         # differences remembered
GAP_FACTOR = 1.5     # a difference above this many usual intervals is a gap
MIN_INTERVAL_NS = 1_000_000   # a usual interval below 1 ms (above 1 kHz) is not a camera's


class UpstreamLossEstimator:
    """Counts frames that the image stamps say were sent but never received (not thread-safe:
    one caller, or the caller's lock)."""

    def __init__(self, pause_s: float = 2.0):
        """
        Args:
            pause_s: a gap between two stamps longer than this many seconds is taken as a pause
                of the source, not as loss.
        """
        self._pause_ns = int(pause_s * 1e9)
        self._differences: collections.deque[int] = collections.deque(maxlen=HISTORY)
        self._previous = 0
        self.lost = 0   # total since start

    @property
    def interval_ns(self) -> int | None:
        """The usual interval between stamps, or None while too few frames came."""
        if len(self._differences) < MIN_HISTORY:
            return None
        ordered = sorted(self._differences)
        return ordered[int(QUANTILE * (len(ordered) - 1))]

    def add(self, stamp_ns: int) -> int:
        """Take the stamp of the next received frame; returns the frames estimated lost
        between it and the previous one (also added to `lost`)."""
        previous, difference = self._previous, stamp_ns - self._previous
        if stamp_ns <= 0 or (previous and difference == 0):
            return 0   # unstamped, or the same frame again
        self._previous = stamp_ns
        if not previous or difference < 0 or difference > self._pause_ns:
            return 0   # first frame, a restart, or a pause
        interval = self.interval_ns
        self._differences.append(difference)
        if (interval is None or interval < MIN_INTERVAL_NS
                or difference <= GAP_FACTOR * interval):
            return 0
        missing = round(difference / interval) - 1
        self.lost += missing
        return missing
