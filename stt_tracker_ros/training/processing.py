"""One sample's network inputs: joint frame augmentation, jittered crops, per-crop augmentation.

Follows STARKProcessing of the official code: grayscale and horizontal flip on the full frames
(one decision for the whole sample); a jittered box per crop (the template's is not jittered by
default); square crops with `crop_and_resize`; the ground truth moved into crop coordinates
(centre convention (size - 1) / 2) and divided by the crop size; then per crop a brightness factor,
a horizontal flip (box flipped too) and ImageNet normalisation. A sample whose crop (or the crop's
stride-16 feature grid) is all padding is rejected, since fully masked attention rows give NaN.
"""
import math
from typing import NamedTuple

import cv2
import numpy as np
import torch

from stt_tracker_ros.tracking.crop import crop_and_resize, normalise

CENTRE_BOX_SHARE = 1 / 8   # negative without target: crop around a box of this share of the image


class CropSpec(NamedTuple):
    """How one kind of crop (template or search) is made."""

    factor: float          # crop side / sqrt(area) of the (jittered) box
    size: int              # output side in pixels
    scale_jitter: float    # sides multiplied by exp(N(0, 1) * scale_jitter)
    center_jitter: float   # centre moved by up to center_jitter / 2 * sqrt(jittered area)


class Augmentation(NamedTuple):
    """Photometric and geometric augmentation probabilities (official values by default)."""

    grayscale_prob: float = 0.05
    flip_prob: float = 0.5
    brightness_jitter: float = 0.2


class CropTensors(NamedTuple):
    """One crop; `network_image` turns image and brightness into the network's input."""

    image: torch.Tensor    # [3, S, S] uint8 RGB
    brightness: float      # factor the grey levels are multiplied by (then clipped)
    mask: torch.Tensor     # [S, S] bool, True on padding
    box: torch.Tensor      # [4] float32 (x, y, w, h) of the target, normalised by S


def network_image(images: torch.Tensor, brightness: torch.Tensor) -> torch.Tensor:
    """[..., 3, S, S] uint8 crops and [...] brightness factors -> ImageNet-normalised float32.

    Done where the batch is (the GPU in training), not in the data-loading workers: a uint8
    crop is a quarter of the bytes to move, and the arithmetic is free there.
    """
    scale = (brightness.float() / 255.0)[..., None, None, None]
    return normalise((images.float() * scale).clamp_(0.0, 1.0))


def jitter_box(rng: np.random.Generator, box_xywh: np.ndarray, scale_jitter: float,
               center_jitter: float) -> np.ndarray:
    """Randomly rescale each side and shift the centre of an (x, y, w, h) box."""
    size = box_xywh[2:] * np.exp(rng.standard_normal(2) * scale_jitter)
    offset = math.sqrt(size[0] * size[1]) * center_jitter * (rng.random(2) - 0.5)
    centre = box_xywh[:2] + box_xywh[2:] / 2 + offset
    return np.concatenate([centre - size / 2, size])


def box_in_crop(box_xywh: np.ndarray, crop_box_xywh: np.ndarray, resize_factor: float,
                size: int) -> np.ndarray:
    """A frame box in the pixels of the crop centred on `crop_box_xywh` (official convention)."""
    offset = (box_xywh[:2] + box_xywh[2:] / 2) - (crop_box_xywh[:2] + crop_box_xywh[2:] / 2)
    centre = (size - 1) / 2 + offset * resize_factor
    wh = box_xywh[2:] * resize_factor
    return np.concatenate([centre - wh / 2, wh])


def box_away(rng: np.random.Generator, box_xywh: np.ndarray, factor: float) -> np.ndarray:
    """A box of the same size whose crop (side `factor` x sqrt(area)) leaves the target out:
    its centre moves along a random direction by 0.8-1.6 times the distance that needs."""
    side = factor * math.sqrt(box_xywh[2] * box_xywh[3])
    angle = rng.uniform(0.0, 2.0 * math.pi)
    direction = np.array([math.cos(angle), math.sin(angle)])
    # Leaving the target out along this direction: a shift of (side + box side) / 2 on the
    # axis that needs the least.
    needed = min((side + box_xywh[2 + axis]) / 2 / max(abs(direction[axis]), 1e-6)
                 for axis in (0, 1))
    moved = box_xywh.copy()
    moved[:2] = box_xywh[:2] + direction * needed * rng.uniform(0.8, 1.6)
    return moved


def overlaps_crop(box_xywh: torch.Tensor) -> bool:
    """Whether a box normalised to its crop ([4] x, y, w, h) overlaps the crop at all."""
    x, y, w, h = box_xywh.tolist()
    return x < 1.0 and x + w > 0.0 and y < 1.0 and y + h > 0.0


def centre_box(height: int, width: int) -> np.ndarray:
    """(x, y, w, h) of a box of 1/8 of the image's sides around its centre."""
    w, h = width * CENTRE_BOX_SHARE, height * CENTRE_BOX_SHARE
    return np.array([(width - w) / 2, (height - h) / 2, w, h])


def flip_horizontal(frame: np.ndarray, box_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror an [H, W, 3] frame left-right and its (x, y, w, h) box with it."""
    flipped = box_xywh.copy()
    flipped[0] = frame.shape[1] - box_xywh[0] - box_xywh[2]
    return cv2.flip(frame, 1), flipped


def to_grayscale(frame: np.ndarray) -> np.ndarray:
    """RGB -> gray, repeated over three channels."""
    return np.repeat(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def feature_grid(mask, stride: int):
    """[..., S, S] padding mask (numpy or torch) -> [..., S // stride, S // stride]: cell (i, j)
    takes pixel (stride i, stride j), the network's nearest down-sampling (`Stark.tokens`)."""
    cells = mask.shape[-1] // stride
    return mask[..., ::stride, ::stride][..., :cells, :cells]


def covers_features(mask: np.ndarray, stride: int) -> bool:
    """True when neither the crop nor its nearest-downsampled feature grid is all padding."""
    return not mask.all() and not feature_grid(mask, stride).all()


class PairProcessor:
    """Makes the template and search crops of a sample; deterministic given the generator."""

    def __init__(self, template: CropSpec, search: CropSpec,
                 augmentation: Augmentation = Augmentation(), stride: int = 16):
        self.template = template
        self.search = search
        self.augmentation = augmentation
        self.stride = stride

    def crop(self, rng: np.random.Generator, frame: np.ndarray, box_xywh: np.ndarray,
             spec: CropSpec) -> CropTensors | None:
        """Jitter, crop, move the box into the crop and augment; None to reject."""
        crop_box = jitter_box(rng, box_xywh, spec.scale_jitter, spec.center_jitter)
        try:
            crop = crop_and_resize(frame, crop_box, spec.factor, spec.size)
        except ValueError:   # the jittered window is degenerate or lies outside the frame
            return None
        box = box_in_crop(box_xywh, crop_box, crop.resize_factor, spec.size)
        jitter = self.augmentation.brightness_jitter
        brightness = rng.uniform(max(0.0, 1.0 - jitter), 1.0 + jitter)
        image = torch.from_numpy(crop.patch).permute(2, 0, 1)
        mask = crop.mask
        if rng.random() < self.augmentation.flip_prob:
            image, mask = image.flip(-1), mask[:, ::-1]
            box[0] = spec.size - box[0] - box[2]
        if not covers_features(mask, self.stride):   # checked after the flip: the grid moves
            return None
        return CropTensors(image.contiguous(), brightness, torch.from_numpy(mask.copy()),
                           torch.from_numpy(box / spec.size).float())

    def __call__(self, rng: np.random.Generator, template_frames: list[np.ndarray],
                 template_boxes: list[np.ndarray], search_frame: np.ndarray,
                 search_box: np.ndarray, label: float) -> dict[str, torch.Tensor] | None:
        """The network inputs of one sample, or None when a crop has to be rejected.

        Args:
            rng: the sample's random generator.
            template_frames, template_boxes: [H, W, 3] uint8 RGB frames and (x, y, w, h) boxes.
            search_frame, search_box: the search frame and the box its crop is centred on.
            label: 1.0 when the search frame shows the templates' target, else 0.0.

        Returns:
            template_images [T, 3, t, t] and search_image [3, s, s] (uint8), their
            brightness factors template_brightness [T] and search_brightness [] (see
            `network_image`), template_masks [T, t, t], search_mask [s, s], search_box [4]
            (x, y, w, h normalised to the search crop) and label [] (float32).
        """
        frames = [*template_frames, search_frame]
        boxes = [np.asarray(b, np.float64) for b in (*template_boxes, search_box)]
        if rng.random() < self.augmentation.grayscale_prob:
            frames = [to_grayscale(f) for f in frames]
        if rng.random() < self.augmentation.flip_prob:
            frames, boxes = map(list, zip(*(flip_horizontal(f, b) for f, b in zip(frames, boxes))))
        crops = [self.crop(rng, f, b, self.template) for f, b in zip(frames[:-1], boxes[:-1])]
        crops.append(self.crop(rng, frames[-1], boxes[-1], self.search))
        if any(c is None for c in crops):
            return None
        return {
            'template_images': torch.stack([c.image for c in crops[:-1]]),
            'template_brightness': torch.tensor([c.brightness for c in crops[:-1]],
                                                dtype=torch.float32),
            'template_masks': torch.stack([c.mask for c in crops[:-1]]),
            'search_image': crops[-1].image,
            'search_brightness': torch.tensor(crops[-1].brightness, dtype=torch.float32),
            'search_mask': crops[-1].mask,
            'search_box': crops[-1].box,
            'label': torch.tensor(label, dtype=torch.float32),
        }
