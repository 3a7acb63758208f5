"""The last few received image messages, so that an init box can name its frame by stamp.

Messages are kept undecoded (`ReceivedFrame.decode` decodes only the one an init picks); each
carries the receive order, the receive time and whether it is a CompressedImage.
"""
import collections
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from std_msgs.msg import Header

from stt_tracker_ros.ros.image_decoding import compressed_to_rgb, image_to_rgb


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

    def decode(self) -> np.ndarray:
        """The image as HxWx3 uint8 RGB (ImageDecodeError says why it cannot be)."""
        return compressed_to_rgb(self.msg) if self.compressed else image_to_rgb(self.msg)

    def age_ms(self) -> float:
        """Milliseconds since the frame arrived: the latency of what is published for it now."""
        return (time.monotonic() - self.received) * 1000.0


class StampNotCached(LookupError):
    """Frames are cached, but none has a stamp close enough to the one asked for."""


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

    def newest_header(self) -> Header:
        """The newest frame's header, for a status that concerns no frame of its own (an empty
        header before the first frame)."""
        newest = self.newest()
        return newest.msg.header if newest else Header()

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

    def for_stamp(self, stamp_ns: int, tolerance_s: float) -> ReceivedFrame | None:
        """The frame an init stamped `stamp_ns` is meant for: the newest for an unstamped one
        (stamp 0), else the closest within `tolerance_s`; None before the first frame.

        Raises:
            StampNotCached: no cached frame is within `tolerance_s`; the message says which are.
        """
        if stamp_ns == 0:   # unstamped (e.g. typed by hand)
            return self.newest()
        frame = self.closest(stamp_ns, int(tolerance_s * 1e9))
        cached = self.stamp_range()
        if frame is None and cached is not None:
            raise StampNotCached(f'no cached frame within {tolerance_s:g} s of stamp '
                                 f'{stamp_ns / 1e9:.3f} (cached {cached[0] / 1e9:.3f} .. '
                                 f'{cached[1] / 1e9:.3f})')
        return frame

    def stamp_range(self) -> tuple[int, int] | None:
        """(oldest, newest) stamps held, for error messages; None when empty."""
        with self._lock:
            if not self._frames:
                return None
            stamps = [f.stamp_ns for f in self._frames]
        return min(stamps), max(stamps)
