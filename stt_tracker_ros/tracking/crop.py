"""Square crops around a box with zero padding and a padding mask, as the official tracker does."""
import functools
import math
from typing import NamedTuple

import cv2
import numpy as np
import torch

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
    """
    x, y, w, h = (float(v) for v in box_xywh)
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise ValueError(f'box {box_xywh} is too small to crop')
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
        ValueError: the window does not overlap the frame.
    """
    x1, y1, side = crop_window(box_xywh, factor)
    window = Window(x1, y1, side, max(0, -x1), max(0, -y1), max(x1 + side - width + 1, 0),
                    max(y1 + side - height + 1, 0))
    rows, columns = window.inside()
    if rows.start >= rows.stop or columns.start >= columns.stop:
        raise ValueError(f'crop window of box {box_xywh} lies outside the {width}x{height} frame')
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


def crop_and_resize(frame: np.ndarray, box_xywh, factor: float, output_size: int) -> Crop:
    """Crop a square of `factor` times the box's geometric-mean side, pad with zeros, resize.

    Args:
        frame: [H, W, 3] uint8 RGB.
        box_xywh: (x, y, w, h) in frame pixels; the crop is centred on its centre.
        factor: crop side relative to sqrt(w * h).
        output_size: side of the returned patch.
    """
    w = padded_window(box_xywh, factor, *frame.shape[:2])
    padded = cv2.copyMakeBorder(frame[w.inside()], w.top, w.bottom, w.left, w.right,
                                cv2.BORDER_CONSTANT)
    patch = cv2.resize(padded, (output_size, output_size))
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
