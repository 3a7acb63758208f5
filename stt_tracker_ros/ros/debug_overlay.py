"""Draw the tracked box, score and state on an RGB frame (~/debug_image and the demo video)."""
import math

import cv2
import numpy as np

from stt_tracker_ros.tracking.result import TrackState

# RGB colours by state: green while tracking, orange when lost, grey without a target.
STATE_COLOURS = {
    TrackState.TRACKING: (40, 220, 60),
    TrackState.LOST: (255, 140, 0),
    TrackState.IDLE: (160, 160, 160),
}
TRUTH_COLOUR = (60, 160, 255)


def _rectangle(image: np.ndarray, box_xywh, colour, thickness: int) -> None:
    x, y, w, h = (float(v) for v in box_xywh)
    top_left = (int(round(x)), int(round(y)))
    bottom_right = (int(round(x + w)) - 1, int(round(y + h)) - 1)
    cv2.rectangle(image, top_left, bottom_right, colour, thickness, cv2.LINE_AA)


def draw_overlay(rgb: np.ndarray, box_xywh=None, state: TrackState = TrackState.IDLE,
                 confidence: float | None = None, target_id: str = '', note: str = '',
                 truth_xywh=None) -> np.ndarray:
    """Return a copy of `rgb` with the track drawn on it.

    Args:
        rgb: [H, W, 3] uint8 RGB frame (left untouched).
        box_xywh: tracked box (x, y, w, h) in pixels, or None.
        state: colours the box and names the state in the caption.
        confidence: score shown in the caption; None or NaN (no score head) for none.
        target_id: shown in the caption.
        note: extra caption text (e.g. an error or 'dropped').
        truth_xywh: optional ground-truth box drawn thin in blue (demo only).

    Returns:
        [H, W, 3] uint8 RGB image.
    """
    image = np.array(rgb, dtype=np.uint8, copy=True)
    height = image.shape[0]
    scale = max(0.4, height / 900.0)
    thickness = max(1, round(height / 300))
    colour = STATE_COLOURS[TrackState(state)]
    if truth_xywh is not None and all(np.isfinite(truth_xywh)):
        _rectangle(image, truth_xywh, TRUTH_COLOUR, 1)
    if box_xywh is not None:
        _rectangle(image, box_xywh, colour, thickness + 1)
    parts = [TrackState(state).name]
    if target_id:
        parts.append(f'id {target_id}')
    if confidence is not None and not math.isnan(confidence):
        parts.append(f'score {confidence:.2f}')
    if note:
        parts.append(note)
    caption = '  '.join(parts)
    (text_w, text_h), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                                 thickness)
    cv2.rectangle(image, (0, 0), (text_w + 8, text_h + baseline + 8), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, caption, (4, text_h + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                thickness, cv2.LINE_AA)
    return image
