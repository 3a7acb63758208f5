"""Square crops around a box with zero padding and a padding mask, as the official tracker does.

The official code pads the whole crop window with zeros (cv2.copyMakeBorder) and resizes it, so
its memory grows with the square of the box's size: a 10000 px box asks for gigabytes. Here a
window of at most EXACT_MAX_SIDE pixels is cropped exactly that way (the same pixels as the
reference); a larger one is sampled at the output pixels only (`sample_window`), which costs
O(output size) whatever the box, and differs from OpenCV's fixed-point resize by at most one grey
level. The padding mask is the reference's in both cases.
"""
import functools
import math
from typing import NamedTuple

import cv2
import numpy as np
import torch

from stt_tracker_ros.tracking.result import InvalidBoxError

EXACT_MAX_SIDE = 4096   # largest window padded in full as the reference does (48 MiB of RGB)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Crop(NamedTuple):
    """A resized square crop of a frame."""

    patch: np.ndarray      # [S, S, 3] uint8 RGB
    mask: np.ndarray       # [S, S] bool, True where any padding reached the resized pixel
    resize_factor: float   # output side / crop side in frame pixels


def crop_window(box_xywh, factor: float) -> tuple[int, int, int]:
    """Integer window (x1, y1, side) of the crop of `factor` * sqrt(area) centred on the box.

    Python's round() (half to even) is used on purpose: it is what the reference code does.

    Raises:
        InvalidBoxError: the box has a non-finite value or no area.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise InvalidBoxError(f'box {box_xywh} has no finite positive size to crop')
    extent = math.sqrt(w * h) * factor
    if not math.isfinite(extent):
        raise InvalidBoxError(f'crop window of box {box_xywh} is infinitely large')
    side = math.ceil(extent)
    if side < 1:
        raise InvalidBoxError(f'box {box_xywh} is too small to crop')
    return round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5), side


class Window(NamedTuple):
    """A crop window and the zero padding it needs where it leaves the frame."""

    x1: int
    y1: int
    side: int
    left: int
    top: int
    right: int
    bottom: int

    def inside(self) -> tuple[slice, slice]:
        """(rows, columns) of the frame that the window covers."""
        return (slice(self.y1 + self.top, self.y1 + self.side - self.bottom),
                slice(self.x1 + self.left, self.x1 + self.side - self.right))


def padded_window(box_xywh, factor: float, height: int, width: int) -> Window:
    """The crop window of `box_xywh` in a height x width frame, with its padding.

    The right/bottom padding is one pixel wider than needed when the window reaches the border:
    the reference code does this, and the model was trained with it.

    Raises:
        InvalidBoxError: the window holds no pixel of the frame (it lies outside, or meets it
            only in the last row or column, which the reference's extra padding removes).
    """
    x1, y1, side = crop_window(box_xywh, factor)
    window = Window(x1, y1, side, max(0, -x1), max(0, -y1), max(x1 + side - width + 1, 0),
                    max(y1 + side - height + 1, 0))
    rows, columns = window.inside()
    if rows.start >= rows.stop or columns.start >= columns.stop:
        raise InvalidBoxError(
            f'crop window of box {box_xywh} ({side} px square at x={x1}, y={y1}) holds no pixel '
            f'of the {width}x{height} frame: it lies outside the frame or meets only its last '
            'row or column')
    return window


@functools.lru_cache(maxsize=8)
def _imagenet_statistics(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as [3, 1, 1] tensors on `device`, made once: a copy to a GPU per call
    would wait for the device every frame and every training step."""
    with torch.inference_mode(False):   # usable inside and outside inference mode
        return (torch.tensor(IMAGENET_MEAN, device=device).view(3, 1, 1),
                torch.tensor(IMAGENET_STD, device=device).view(3, 1, 1))


def normalise(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB in [0, 1] -> ImageNet-normalised, on the image's device."""
    mean, std = _imagenet_statistics(image.device)
    return (image - mean) / std


def _axis_taps(origin: int, side: int, pad_before: int, pad_after: int, limit: int,
               size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where OpenCV's bilinear resize of `side` pixels to `size` reads, along one axis.

    Returns ([size, 2] frame indices, clamped into 0..limit-1, and [size, 2] float64 weights,
    zero on taps that fall in the padding), with cv2.INTER_LINEAR's half-pixel centres and
    border clamping.
    """
    centres = (np.arange(size, dtype=np.float64) + 0.5) * (side / size) - 0.5
    first = np.floor(centres).astype(np.int64)
    second = centres - first
    second[first < 0], first[first < 0] = 0.0, 0
    last = first >= side - 1
    second[last], first[last] = 0.0, side - 1
    taps = np.stack([first, np.minimum(first + 1, side - 1)], axis=1)
    weights = np.stack([1.0 - second, second], axis=1)
    weights[(taps < pad_before) | (taps >= side - pad_after)] = 0.0
    return np.clip(taps + origin, 0, limit - 1), weights


def sample_window(frame: np.ndarray, window: Window, output_size: int) -> np.ndarray:
    """The zero-padded window resized to output_size x output_size, reading only the frame
    pixels that the output samples: O(output_size^2) memory and time, whatever the window.

    Equal to copyMakeBorder + cv2.resize (INTER_LINEAR) up to one grey level (OpenCV rounds its
    weights to 11 bits).
    """
    height, width = frame.shape[:2]
    rows, row_weights = _axis_taps(window.y1, window.side, window.top, window.bottom, height,
                                   output_size)
    columns, column_weights = _axis_taps(window.x1, window.side, window.left, window.right,
                                         width, output_size)
    patch = np.zeros((output_size, output_size, frame.shape[2]), np.float64)
    for r in range(2):
        for c in range(2):
            weight = row_weights[:, r, None] * column_weights[None, :, c]
            patch += weight[..., None] * frame[rows[:, r, None], columns[None, :, c]]
    return np.clip(np.floor(patch + 0.5), 0, 255).astype(np.uint8)


def crop_and_resize(frame: np.ndarray, box_xywh, factor: float, output_size: int) -> Crop:
    """Crop a square of `factor` times the box's geometric-mean side, pad with zeros, resize.

    Windows up to EXACT_MAX_SIDE pixels are padded and resized as the reference does; larger
    ones are sampled (`sample_window`), so no box makes a crop cost more than the padded
    EXACT_MAX_SIDE window.

    Args:
        frame: [H, W, 3] uint8 RGB.
        box_xywh: (x, y, w, h) in frame pixels; the crop is centred on its centre.
        factor: crop side relative to sqrt(w * h).
        output_size: side of the returned patch.

    Raises:
        InvalidBoxError: see `crop_window` and `padded_window`.
    """
    w = padded_window(box_xywh, factor, *frame.shape[:2])
    if w.side <= EXACT_MAX_SIDE:
        padded = cv2.copyMakeBorder(frame[w.inside()], w.top, w.bottom, w.left, w.right,
                                    cv2.BORDER_CONSTANT)
        patch = cv2.resize(padded, (output_size, output_size))
    else:
        patch = sample_window(frame, w, output_size)
    # The reference resizes a float side x side padding mask. The mask is a rectangle's
    # complement and OpenCV's resize is separable, so resizing its row and column profiles
    # gives the same pixels at O(side) cost.
    rows = np.ones((w.side, 1), dtype=np.float64)
    rows[w.top:w.side - w.bottom] = 0
    columns = np.ones((1, w.side), dtype=np.float64)
    columns[:, w.left:w.side - w.right] = 0
    mask = ((cv2.resize(rows, (1, output_size)) != 0)
            | (cv2.resize(columns, (output_size, 1)) != 0))
    return Crop(patch, mask, output_size / w.side)


def to_model_input(crop: Crop, device: torch.device | str = 'cpu',
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise a crop to the network's input: ([1, 3, S, S] image, [1, S, S] bool mask)."""
    image = torch.from_numpy(crop.patch).to(device).permute(2, 0, 1).float().div_(255.0)
    image = normalise(image).unsqueeze(0).to(dtype)
    mask = torch.from_numpy(crop.mask).to(device).unsqueeze(0)
    return image, mask
