"""Pure helpers of the init-box GUI: window/image geometry, PPM encoding and init messages.

The window may show the image scaled; boxes are always published in the image's own pixels.
Nothing here touches tkinter, so all of it is tested without a display.
"""
import numpy as np
from std_msgs.msg import Header
from vision_msgs.msg import BoundingBox2D, Detection2D

from stt_tracker_ros.ros.conversions import xywh_to_bbox

MIN_BOX_PX = 2.0   # a drag smaller than this (in image pixels) is taken as a click, not a box


def fit_scale(image_w: int, image_h: int, max_w: int, max_h: int) -> float:
    """Display scale that fits the image into max_w x max_h without enlarging it beyond 2x."""
    if image_w <= 0 or image_h <= 0:
        raise ValueError(f'image size must be positive, got {image_w}x{image_h}')
    return min(max_w / image_w, max_h / image_h, 2.0)


def drag_to_box(start_xy: tuple[float, float], end_xy: tuple[float, float], scale: float,
                image_w: int, image_h: int) -> tuple[float, float, float, float] | None:
    """Turn a mouse drag in window pixels into an (x, y, w, h) box in image pixels.

    The drag may go in any direction and may leave the window; the box is clipped to the image.

    Args:
        start_xy: where the button was pressed, window pixels.
        end_xy: where it was released (or is now), window pixels.
        scale: window pixels per image pixel.
        image_w, image_h: image size in pixels.

    Returns:
        The box, or None when it is smaller than MIN_BOX_PX on a side after clipping.
    """
    if scale <= 0:
        raise ValueError(f'scale must be positive, got {scale}')
    xs = sorted((start_xy[0] / scale, end_xy[0] / scale))
    ys = sorted((start_xy[1] / scale, end_xy[1] / scale))
    x1, x2 = (min(max(v, 0.0), float(image_w)) for v in xs)
    y1, y2 = (min(max(v, 0.0), float(image_h)) for v in ys)
    if x2 - x1 < MIN_BOX_PX or y2 - y1 < MIN_BOX_PX:
        return None
    return x1, y1, x2 - x1, y2 - y1


def box_to_window(box_xywh, scale: float) -> tuple[float, float, float, float]:
    """(x, y, w, h) image box to (x1, y1, x2, y2) window coordinates for drawing."""
    x, y, w, h = box_xywh
    return x * scale, y * scale, (x + w) * scale, (y + h) * scale


def rgb_to_ppm(rgb: np.ndarray, scale: float = 1.0) -> bytes:
    """Encode an [H, W, 3] uint8 RGB image as binary PPM (what tkinter.PhotoImage reads).

    Args:
        rgb: image to show.
        scale: display scale; nearest-neighbour resize when it is not 1.

    Returns:
        PPM (P6) bytes.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected HxWx3 uint8, got {rgb.shape} {rgb.dtype}')
    if scale != 1.0:
        height, width = rgb.shape[:2]
        rows = np.minimum((np.arange(max(1, round(height * scale))) / scale).astype(int),
                          height - 1)
        cols = np.minimum((np.arange(max(1, round(width * scale))) / scale).astype(int),
                          width - 1)
        rgb = rgb[rows][:, cols]
    height, width = rgb.shape[:2]
    return f'P6 {width} {height} 255\n'.encode('ascii') + np.ascontiguousarray(rgb).tobytes()


def init_box_message(box_xywh) -> BoundingBox2D:
    """The ~/init_box message for an (x, y, w, h) pixel box."""
    return xywh_to_bbox(box_xywh)


def init_message(box_xywh, header: Header) -> Detection2D:
    """The ~/init message: the box plus the header (stamp) of the frame it was drawn on."""
    detection = Detection2D()
    detection.header = header
    detection.bbox = xywh_to_bbox(box_xywh)
    return detection
