"""Paste a texture into a frame at a sub-pixel xywh box, with optional linear motion blur.

Box convention: continuous pixel coordinates, pixel (i, j) covers [j, j+1) x [i, i+1), so a box
(x, y, w, h) covers exactly w*h pixel units of area and its edges may fall inside pixels; edge
pixels get fractional coverage (anti-aliasing), which keeps ground-truth boxes exact to sub-pixel
level.
"""
import math

import cv2
import numpy as np

_SUBPIXEL_BITS = 4   # cv2 drawing shift: coordinates in 1/16 px


def _motion_kernel(dx: float, dy: float) -> np.ndarray:
    """Normalised line kernel for a displacement of (dx, dy) pixels during the exposure."""
    radius = math.ceil(math.hypot(dx, dy) / 2.0)
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.uint8)
    scale = 1 << _SUBPIXEL_BITS
    start = (round((radius - dx / 2.0) * scale), round((radius - dy / 2.0) * scale))
    end = (round((radius + dx / 2.0) * scale), round((radius + dy / 2.0) * scale))
    cv2.line(kernel, start, end, 255, 1, cv2.LINE_AA, _SUBPIXEL_BITS)
    kernel = kernel.astype(np.float32)
    return kernel / kernel.sum()


def paste_xywh(canvas: np.ndarray, texture: np.ndarray,
               box_xywh: tuple[float, float, float, float],
               blur_xy: tuple[float, float] = (0.0, 0.0)) -> None:
    """Draw `texture` stretched onto `box_xywh` of `canvas`, in place.

    Args:
        canvas: [H, W, 3] uint8 frame, modified in place; parts of the box outside it are dropped.
        texture: [h, w, 3] uint8 image, stretched to the box size (aspect not kept).
        box_xywh: target box (x, y, w, h) in canvas pixels, floats, any position.
        blur_xy: displacement in pixels during the exposure; a length under 1 px means no blur.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    if not (w > 0.0 and h > 0.0):
        return
    blur_len = math.hypot(*blur_xy)
    pad = math.ceil(blur_len / 2.0) + 2
    rows, cols = canvas.shape[:2]
    x0, y0 = max(0, math.floor(x) - pad), max(0, math.floor(y) - pad)
    x1, y1 = min(cols, math.ceil(x + w) + pad), min(rows, math.ceil(y + h) + pad)
    if x1 <= x0 or y1 <= y0:
        return

    # Resize to the nearest integer size first (area filter, no aliasing when shrinking), then
    # warp by the small residual scale and the sub-pixel offset.
    size = (max(1, round(w)), max(1, round(h)))
    shrink = size[0] < texture.shape[1] or size[1] < texture.shape[0]
    resized = cv2.resize(texture, size,
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    rgba = cv2.cvtColor(resized, cv2.COLOR_RGB2RGBA).astype(np.float32)
    sx, sy = w / size[0], h / size[1]
    # cv2 maps pixel centres (integers); continuous u maps to x + u*s, hence the half-pixel terms.
    warp = np.array([[sx, 0.0, x - x0 + 0.5 * sx - 0.5],
                     [0.0, sy, y - y0 + 0.5 * sy - 0.5]], np.float64)
    # Zero border outside the texture makes the warped RGB premultiplied by the warped alpha.
    layer = cv2.warpAffine(rgba, warp, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    if blur_len >= 1.0:
        layer = cv2.filter2D(layer, -1, _motion_kernel(*blur_xy), borderType=cv2.BORDER_CONSTANT)
    alpha = layer[..., 3:] / 255.0                                     # [h, w, 1]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    blended = region * (1.0 - alpha) + layer[..., :3]
    canvas[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
