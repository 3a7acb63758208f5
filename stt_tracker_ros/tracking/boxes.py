"""Box conversions between the search crop and the frame, clipping, and init-box validation."""
import math

from stt_tracker_ros.tracking.result import InvalidBoxError

BoxXYWH = tuple[float, float, float, float]


def crop_box_to_frame(box_cxcywh_crop: BoxXYWH, previous_xywh: BoxXYWH,
                      crop_side: float) -> BoxXYWH:
    """Map a box in search-crop pixels (at frame scale) back to frame pixels.

    The crop is taken as centred exactly on the previous box's centre; the sub-pixel shift
    from rounding the crop window is ignored, as in the reference tracker.
    """
    cx, cy, w, h = box_cxcywh_crop
    px, py, pw, ph = previous_xywh
    cx += px + 0.5 * pw - 0.5 * crop_side
    cy += py + 0.5 * ph - 0.5 * crop_side
    return cx - 0.5 * w, cy - 0.5 * h, w, h


def clip_box(box_xywh: BoxXYWH, height: int, width: int, margin: float = 10.0) -> BoxXYWH:
    """Keep a box at least `margin` pixels wide/high and `margin` pixels inside the frame."""
    x, y, w, h = box_xywh
    x1 = min(max(0.0, x), width - margin)
    x2 = min(max(margin, x + w), width)
    y1 = min(max(0.0, y), height - margin)
    y2 = min(max(margin, y + h), height)
    return x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)


def validate_init_box(box_xywh, height: int, width: int) -> BoxXYWH:
    """Return the box as floats, or raise InvalidBoxError saying what is wrong with it.

    A valid box has finite coordinates, positive width and height, and overlaps the frame.
    """
    try:
        x, y, w, h = (float(v) for v in box_xywh)
    except (TypeError, ValueError):
        raise InvalidBoxError(f'init box must be 4 numbers (x, y, w, h), got {box_xywh!r}') \
            from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise InvalidBoxError(f'init box has NaN or infinite values: {(x, y, w, h)}')
    if w <= 0 or h <= 0:
        raise InvalidBoxError(f'init box must have positive size, got w={w}, h={h}')
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise InvalidBoxError(f'init box {(x, y, w, h)} lies outside the {width}x{height} image')
    return x, y, w, h
