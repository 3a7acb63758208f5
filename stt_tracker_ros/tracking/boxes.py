"""Box conversions between the search crop and the frame, clipping, and init-box validation."""
import math

from stt_tracker_ros.tracking.result import InvalidBoxError

BoxXYWH = tuple[float, float, float, float]     # left, top, width, height
BoxCXCYWH = tuple[float, float, float, float]   # centre x, centre y, width, height

MIN_BOX_SIDE = 1.0       # px: a smaller init box holds less than one pixel of its object
MAX_BOX_SIDE = 65536.0   # px: larger than the side of any camera image
MIN_VISIBLE = 1.0        # px of the init box, in each direction, that must lie in the image


def crop_box_to_frame(box_cxcywh_crop: BoxCXCYWH, previous_xywh: BoxXYWH,
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

    A valid box has finite coordinates, a width and height from MIN_BOX_SIDE to MAX_BOX_SIDE
    pixels, and at least MIN_VISIBLE pixels of it lie inside the frame in each direction.
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
    if w < MIN_BOX_SIDE or h < MIN_BOX_SIDE:
        raise InvalidBoxError(f'init box is too small: {w:.3g} x {h:.3g} px, each side must be '
                              f'at least {MIN_BOX_SIDE:g} px')
    if w > MAX_BOX_SIDE or h > MAX_BOX_SIDE:
        raise InvalidBoxError(f'init box is too large: {w:.3g} x {h:.3g} px, no camera image '
                              f'holds a side above {MAX_BOX_SIDE:g} px')
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise InvalidBoxError(f'init box {(x, y, w, h)} lies outside the {width}x{height} image')
    visible_w, visible_h = min(x + w, width) - max(x, 0.0), min(y + h, height) - max(y, 0.0)
    if visible_w < MIN_VISIBLE or visible_h < MIN_VISIBLE:
        raise InvalidBoxError(
            f'only {visible_w:.3g} x {visible_h:.3g} px of init box {(x, y, w, h)} lie inside the '
            f'{width}x{height} image; at least {MIN_VISIBLE:g} x {MIN_VISIBLE:g} px must')
    return x, y, w, h


def inside_fraction(box_xywh: BoxXYWH, height: int, width: int) -> float:
    """The share of a box's area (positive size) inside a `width` x `height` frame, 0 to 1."""
    x, y, w, h = box_xywh
    inside_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inside_h = max(0.0, min(y + h, height) - max(y, 0.0))
    return inside_w * inside_h / (w * h)
