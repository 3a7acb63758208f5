"""OpenCV's CSRT and KCF trackers behind this project's `initialize` / `track` interface.

They are baselines for the evaluation: same RGB frames and xywh boxes in, `TrackResult` out. They
need opencv-contrib (`cv2.TrackerCSRT_create`, or `cv2.legacy.*` in some builds). OpenCV gives no
score, so the confidence is 1.0 while OpenCV reports success and 0.0 (state LOST, last box kept)
when it does not.
"""
import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from stt_tracker_ros.tracking.result import (InvalidBoxError, InvalidFrameError, TrackResult,
                                             TrackState)


def _constructor(algorithm: str) -> Callable[[], Any]:
    """cv2's factory function for `algorithm` ('CSRT' or 'KCF'), new API first, then legacy."""
    attribute = f'Tracker{algorithm}_create'
    for namespace in (cv2, getattr(cv2, 'legacy', None)):
        create = getattr(namespace, attribute, None)
        if create is not None:
            return create
    raise RuntimeError(f'this OpenCV build has no {attribute}; install '
                       'opencv-contrib-python-headless')


class OpenCVTracker:
    """One OpenCV tracker instance per `initialize`, fed BGR copies of the RGB frames."""

    def __init__(self, algorithm: str) -> None:
        """Look up the OpenCV tracker; nothing is tracked until `initialize`.

        Args:
            algorithm: 'CSRT' or 'KCF'.

        Raises:
            RuntimeError: OpenCV lacks the tracker (no contrib modules).
        """
        self.algorithm = algorithm
        self._create = _constructor(algorithm)
        self._tracker = None
        self._shape: tuple[int, ...] = ()
        self._box = (0.0, 0.0, 0.0, 0.0)
        self._frame_index = 0

    def _to_bgr(self, frame: np.ndarray) -> np.ndarray:
        """Check an RGB frame and convert it for OpenCV."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InvalidFrameError(f'expected HxWx3 uint8 RGB, got {frame.dtype} {frame.shape}')
        if self._tracker is not None and frame.shape != self._shape:
            raise InvalidFrameError(f'frame size changed from {self._shape} to {frame.shape}')
        return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)

    def initialize(self, frame: np.ndarray, box_xywh: tuple[float, float, float, float]) -> None:
        """Start tracking the object in `box_xywh`, dropping any previous target.

        Args:
            frame: [H, W, 3] uint8 RGB.
            box_xywh: x, y, w, h in pixels.

        Raises:
            InvalidFrameError: not an HxWx3 uint8 frame.
            InvalidBoxError: the box is not finite, empty or outside the frame.
        """
        self._tracker = None
        bgr = self._to_bgr(frame)
        x, y, w, h = (float(v) for v in box_xywh)
        rows, cols = frame.shape[:2]
        if not (all(math.isfinite(v) for v in (x, y, w, h)) and w >= 1 and h >= 1
                and x < cols and y < rows and x + w > 0 and y + h > 0):
            raise InvalidBoxError(f'cannot track box {box_xywh} in a {cols}x{rows} frame')
        self._tracker = self._create()
        self._tracker.init(bgr, (round(x), round(y), round(w), round(h)))   # cv::Rect wants ints
        self._shape = frame.shape
        self._box = (x, y, w, h)
        self._frame_index = 0

    def track(self, frame: np.ndarray) -> TrackResult:
        """Follow the target into `frame`.

        Args:
            frame: [H, W, 3] uint8 RGB, the size of the initialisation frame.

        Returns:
            The box (pixels, xywh) and a confidence of 1.0 (found) or 0.0 (lost, last box kept).

        Raises:
            RuntimeError: `initialize` has not been called.
            InvalidFrameError: wrong dtype, shape or size.
        """
        if self._tracker is None:
            raise RuntimeError('initialize() must be called before track()')
        found, box = self._tracker.update(self._to_bgr(frame))
        if found:
            self._box = tuple(float(v) for v in box)
        self._frame_index += 1
        return TrackResult(box_xywh=self._box, confidence=1.0 if found else 0.0,
                           state=TrackState.TRACKING if found else TrackState.LOST,
                           template_updated=False, frame_index=self._frame_index)


def csrt_tracker() -> OpenCVTracker:
    """A CSRT (discriminative correlation filter with channel and spatial reliability) tracker."""
    return OpenCVTracker('CSRT')


def kcf_tracker() -> OpenCVTracker:
    """A KCF (kernelized correlation filter) tracker."""
    return OpenCVTracker('KCF')
