"""The last few received image messages, so that an init box can name its frame by stamp.

Messages are kept undecoded (decoding only the one an init picks); each carries the receive
order, the receive time and whether it is a CompressedImage.
"""
import collections
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReceivedFrame:
    """One image message as it arrived.

    Attributes:
        msg: the sensor_msgs/Image or CompressedImage.
        seq: receive order, starting at 1.
        stamp_ns: header stamp in nanoseconds.
        received: time.monotonic() at receipt (for latency).
        compressed: True for CompressedImage.
    """

    msg: Any
    seq: int
    stamp_ns: int
    received: float
    compressed: bool = False


class FrameCache:
    """Thread-safe ring buffer of the newest `size` frames."""

    def __init__(self, size: int):
        """Keep at most `size` (>= 1) frames."""
        if size < 1:
            raise ValueError(f'frame cache size must be at least 1, got {size}')
        self._frames: collections.deque[ReceivedFrame] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of frames held."""
        with self._lock:
            return len(self._frames)

    def add(self, frame: ReceivedFrame) -> None:
        """Append a frame, evicting the oldest when full."""
        with self._lock:
            self._frames.append(frame)

    def newest(self) -> ReceivedFrame | None:
        """The last frame received, or None before the first one."""
        with self._lock:
            return self._frames[-1] if self._frames else None

    def closest(self, stamp_ns: int, tolerance_ns: int) -> ReceivedFrame | None:
        """The frame whose stamp is nearest `stamp_ns`, if within `tolerance_ns`.

        Ties go to the later frame, so a repeated stamp picks the newest copy.
        """
        with self._lock:
            frames = list(self._frames)
        best = None
        for frame in frames:
            if best is None or abs(frame.stamp_ns - stamp_ns) <= abs(best.stamp_ns - stamp_ns):
                best = frame
        if best is None or abs(best.stamp_ns - stamp_ns) > tolerance_ns:
            return None
        return best

    def stamp_range(self) -> tuple[int, int] | None:
        """(oldest, newest) stamps held, for error messages; None when empty."""
        with self._lock:
            if not self._frames:
                return None
            stamps = [f.stamp_ns for f in self._frames]
        return min(stamps), max(stamps)
