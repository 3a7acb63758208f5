"""Synthetic tracking scenes with exact ground truth, reproducible from a seed.

A textured target moves smoothly over a textured, panning background while its size and aspect
drift. Optional challenges: look-alike distractors (drawn behind the target), a full-height
occluder sweeping across the target (drawn in front), the target leaving the view and returning,
motion blur and global lighting changes. Positions, sizes and lighting are computed up front
(cheap); frames are rendered when indexed, so long scenes cost no memory.

Ground truth: `Scene.boxes` is the target's full, unclipped box in continuous pixel coordinates
(see `compositing`). `Scene.visible_fraction` is the part of that box inside the image and not
behind the occluder; `Scene.visible` is `visible_fraction >= config.min_visible_fraction`.
"""
import collections.abc
import math
from dataclasses import dataclass

import cv2
import numpy as np

from stt_tracker_ros.data.compositing import paste_xywh
from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.data.textures import (background_texture, lookalike_texture,
                                           object_texture, occluder_texture)

_EXPOSURE = 0.8   # fraction of the frame interval the shutter is open: blur = 0.8 * velocity


@dataclass(frozen=True)
class SceneConfig:
    """What a synthetic scene contains. Sizes and speeds are relative to the shorter image side."""

    width: int = 640
    height: int = 480
    num_frames: int = 100
    distractors: int = 1                 # look-alikes: mirrored, hue-shifted target texture
    occlusion: bool = True               # an occluder sweeps over the target once
    leave_view: bool = False             # the target exits the image, stays out, comes back
    blur: bool = True                    # motion blur along each object's velocity
    lighting: bool = True                # smooth per-channel gain drift plus one sudden change
    camera_motion: bool = True           # the background pans
    max_speed: float = 0.015             # target speed limit per frame
    target_size: tuple[float, float] = (0.12, 0.22)   # range of the target's base side
    scale_change: float = 0.35           # largest |log| size change over the scene
    aspect_change: float = 0.25          # largest |log| aspect change over the scene
    min_visible_fraction: float = 0.1    # visible flag threshold on the unoccluded in-image part

    def __post_init__(self) -> None:
        """Reject settings that cannot make a scene."""
        if self.width < 32 or self.height < 32 or self.num_frames < 1 or self.distractors < 0:
            raise ValueError(f'invalid scene size or counts: {self}')
        if not 0.0 < self.target_size[0] <= self.target_size[1] < 0.5:
            raise ValueError(f'target_size must satisfy 0 < low <= high < 0.5: {self.target_size}')


class SceneFrames(collections.abc.Sequence):
    """The frames of a scene, rendered on access: len(), [i] and iteration."""

    def __init__(self, background: np.ndarray, pan_xy: np.ndarray, size: tuple[int, int],
                 layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]], gains: np.ndarray | None
                 ) -> None:
        """Keep everything needed to render any frame.

        Args:
            background: [Hb, Wb, 3] uint8 RGB, larger than the frame by the pan range.
            pan_xy: [N, 2] int top-left of the view into the background.
            size: (width, height) of a frame.
            layers: back to front (texture, boxes [N, 4] xywh, blur [N, 2] px or zeros).
            gains: [N, 3] per-channel multipliers, or None for constant lighting.
        """
        self._background = background
        self._pan_xy = pan_xy
        self._size = size
        self._layers = layers
        self._gains = gains

    def __len__(self) -> int:
        """Number of frames."""
        return len(self._pan_xy)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame `index` as [H, W, 3] uint8 RGB (negative indices count from the end)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f'frame {index} of {len(self)}')
        index %= len(self)
        (left, top), (width, height) = self._pan_xy[index], self._size
        frame = self._background[top:top + height, left:left + width].copy()
        for texture, boxes, blur in self._layers:
            paste_xywh(frame, texture, boxes[index], blur[index])
        if self._gains is not None:
            frame = cv2.multiply(frame, (*self._gains[index], 0.0))   # saturates at 255
        return frame


@dataclass(frozen=True, eq=False)
class Scene:
    """A generated scene.

    Attributes:
        config: the settings it was made from.
        seed: the seed it was made from.
        frames: N frames, [H, W, 3] uint8 RGB, rendered when indexed.
        boxes: [N, 4] float64 target box x, y, w, h in pixels, unclipped (may leave the image).
        visible_fraction: [N] float64 share of the box in the image and not occluded.
        visible: [N] bool, visible_fraction >= config.min_visible_fraction.
    """

    config: SceneConfig
    seed: int
    frames: SceneFrames
    boxes: np.ndarray
    visible_fraction: np.ndarray
    visible: np.ndarray

    def to_sequence(self, name: str | None = None) -> Sequence:
        """The scene as a benchmark-style Sequence: boxes clipped to the image, NaN when invisible.

        Args:
            name: sequence name; defaults to `synthetic_<seed>`.

        Returns:
            A Sequence sharing this scene's lazily rendered frames.
        """
        boxes = _clip_boxes(self.boxes, self.config.width, self.config.height)
        boxes[~self.visible] = np.nan
        return Sequence(name or f'synthetic_{self.seed}', self.frames, boxes, self.visible.copy())


def _smooth_signal(rng: np.random.Generator, count: int, amplitude: float) -> np.ndarray:
    """A smooth zero-start curve of peak magnitude up to `amplitude`: three random sinusoids."""
    t = np.arange(count) / 100.0                       # frequencies in cycles per 100 frames
    freqs, phases = rng.uniform(0.3, 1.5, 3), rng.uniform(0.0, 2 * np.pi, 3)
    signal = (np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])
              - np.sin(phases[:, None])).sum(axis=0)
    peak = np.abs(signal).max()
    return signal * (amplitude * rng.uniform(0.6, 1.0) / peak) if peak > 0 else signal


def _sizes(rng: np.random.Generator, config: SceneConfig, side: float) -> np.ndarray:
    """[N, 2] object width and height around a base `side` with drifting scale and aspect."""
    aspect = math.exp(rng.uniform(-0.5, 0.5))
    log_scale = _smooth_signal(rng, config.num_frames, config.scale_change)
    log_aspect = _smooth_signal(rng, config.num_frames, config.aspect_change)
    width = side * math.sqrt(aspect) * np.exp(log_scale + log_aspect / 2)
    height = side / math.sqrt(aspect) * np.exp(log_scale - log_aspect / 2)
    return np.stack([width, height], axis=1)


def _random_walk(rng: np.random.Generator, count: int, low: np.ndarray, high: np.ndarray,
                 speed: float, start: np.ndarray | None = None) -> np.ndarray:
    """[N, 2] centres: damped random velocity capped at `speed`, bouncing off [low, high]."""
    position = rng.uniform(low, high) if start is None else start.astype(np.float64)
    velocity = rng.normal(0.0, speed / 2, 2)
    centres = np.empty((count, 2))
    for index in range(count):
        centres[index] = position
        velocity = 0.92 * velocity + rng.normal(0.0, speed / 4, 2)
        norm = math.hypot(*velocity)
        velocity *= min(1.0, speed / norm) if norm > 0 else 1.0
        position = position + velocity
        for axis in range(2):
            if position[axis] < low[axis] or position[axis] > high[axis]:
                bound = low[axis] if position[axis] < low[axis] else high[axis]
                position[axis] = np.clip(2 * bound - position[axis], low[axis], high[axis])
                velocity[axis] = -velocity[axis]
    return centres


def _leave_and_return(centres: np.ndarray, sizes: np.ndarray, image_size: tuple[int, int],
                      speed: float) -> None:
    """Overwrite part of `centres` in place: exit by the nearest side, wait outside, come back.

    Exit starts at 0.25 N; each way takes at most 0.12 N frames (faster than `speed` if needed)
    and the wait 0.1 N, so the target is back by 0.6 N.
    """
    count = len(centres)
    start = round(0.25 * count)
    if start >= count - 1:
        return
    here = centres[start].copy()
    limits = np.array(image_size, np.float64)
    margins = sizes.max(axis=0) / 2 + 4.0
    gaps = np.concatenate([here, limits - here])       # to left, top, right, bottom sides
    side = int(np.argmin(gaps))
    axis = side % 2
    outside = here.copy()
    outside[axis] = -margins[axis] if side < 2 else limits[axis] + margins[axis]
    travel = max(3, min(math.ceil(abs(outside[axis] - here[axis]) / speed), round(0.12 * count)))
    wait = max(3, round(0.1 * count))
    stops = [(start, here), (start + travel, outside), (start + travel + wait, outside)]
    back = start + 2 * travel + wait
    stops.append((back, centres[min(back, count - 1)].copy()))
    for (t0, p0), (t1, p1) in zip(stops[:-1], stops[1:]):
        for index in range(t0, min(t1, count)):
            s = (index - t0) / (t1 - t0)
            centres[index] = p0 + (p1 - p0) * (3 * s * s - 2 * s ** 3)   # smoothstep


def _boxes(centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[N, 4] xywh from centres and sizes."""
    return np.concatenate([centres - sizes / 2, sizes], axis=1)


def _blur(boxes: np.ndarray, enabled: bool) -> np.ndarray:
    """[N, 2] blur displacement per frame from the box centre velocity (zeros when disabled)."""
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    if not enabled or len(boxes) < 2:
        return np.zeros((len(boxes), 2))
    velocity = np.diff(centres, axis=0, prepend=centres[:1] * 2 - centres[1:2])
    return _EXPOSURE * velocity


def _clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """[N, 4] xywh boxes cut to the image; a box fully outside gets zero width or height."""
    low = np.clip(boxes[:, :2], 0.0, [width, height])
    high = np.clip(boxes[:, :2] + boxes[:, 2:], low, [width, height])
    return np.concatenate([low, high - low], axis=1)


def _overlap_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N] intersection areas of xywh boxes a [N, 4] and b [N, 4] (or [4])."""
    low = np.maximum(a[..., :2], b[..., :2])
    high = np.minimum(a[..., :2] + a[..., 2:], b[..., :2] + b[..., 2:])
    return np.prod(np.clip(high - low, 0.0, None), axis=-1)


def _occluder_boxes(rng: np.random.Generator, target: np.ndarray, config: SceneConfig,
                    speed: float) -> np.ndarray:
    """[N, 4] boxes of a full-height bar that is centred on the target at the occlusion frame.

    The bar starts outside the image, so frame 0 is never occluded; it moves at 2.5x the target's
    top speed, or faster when the scene is too short to reach the target from outside in time.
    """
    count = config.num_frames
    when = max(1, round((0.75 if config.leave_view else 0.5) * count))
    width = 1.2 * target[:, 2].max() + 4 * speed
    meet_x = target[min(when, count - 1), 0] + target[min(when, count - 1), 2] / 2
    if rng.random() < 0.5:   # enter from the left
        velocity = max(2.5 * speed, (meet_x + width / 2 + 1.0) / when)
    else:
        velocity = -max(2.5 * speed, (config.width + width / 2 + 1.0 - meet_x) / when)
    centre_x = meet_x + velocity * (np.arange(count) - when)
    boxes = np.empty((count, 4))
    boxes[:, 0], boxes[:, 1] = centre_x - width / 2, -4.0
    boxes[:, 2], boxes[:, 3] = width, config.height + 8.0
    return boxes


def _lighting(rng: np.random.Generator, count: int) -> np.ndarray:
    """[N, 3] per-channel gains: smooth drift and tint, plus one sudden dimming or brightening."""
    gains = np.exp(_smooth_signal(rng, count, 0.2))[:, None] * np.ones(3)
    for channel in range(3):
        gains[:, channel] *= 1.0 + _smooth_signal(rng, count, 0.06)
    step_at = rng.uniform(0.2, 0.8) * count
    ramp = np.clip((np.arange(count) - step_at) / 3.0, 0.0, 1.0)   # over three frames
    factor = rng.choice([0.65, 1.3])
    return np.clip(gains * (1.0 + (factor - 1.0) * ramp)[:, None], 0.4, 1.8)


def _distractor_boxes(rng: np.random.Generator, config: SceneConfig, side: float,
                      target_start: np.ndarray, speed: float) -> np.ndarray:
    """[N, 4] boxes of a look-alike of similar size that starts clear of the target's box."""
    sizes = _sizes(rng, config, side * rng.uniform(0.8, 1.25))
    low = sizes.max(axis=0) / 2 + 2.0
    high = np.maximum(np.array([config.width, config.height]) - low, low)
    target_centre = target_start[:2] + target_start[2:] / 2
    start = rng.uniform(low, high)
    for _ in range(20):
        if np.any(np.abs(start - target_centre) > (target_start[2:] + sizes[0]) / 2):
            break
        start = rng.uniform(low, high)
    return _boxes(_random_walk(rng, config.num_frames, low, high, speed, start), sizes)


def _visible_fraction(target: np.ndarray, occluder: np.ndarray | None,
                      image_size: tuple[int, int]) -> np.ndarray:
    """[N] share of the target box that is inside the image and not behind the occluder."""
    in_image = _clip_boxes(target, *image_size)
    shown = in_image[:, 2] * in_image[:, 3]
    if occluder is not None:
        shown = shown - _overlap_area(in_image, occluder)
    return np.clip(shown / (target[:, 2] * target[:, 3]), 0.0, 1.0)


def generate_scene(config: SceneConfig, seed: int) -> Scene:
    """Make a scene; the same config and seed always give the same frames and boxes.

    The target is fully visible and unoccluded in frame 0, so frame 0 can initialise a tracker.

    Args:
        config: what the scene contains.
        seed: random seed.

    Returns:
        The Scene, with frames rendered on access.
    """
    # Independent streams: adding a distractor or an event leaves the target's path unchanged.
    children = np.random.SeedSequence(seed).spawn(3 + config.distractors)
    scene_rng, target_rng, event_rng = (np.random.default_rng(c) for c in children[:3])
    count, image_size = config.num_frames, (config.width, config.height)
    unit = min(config.width, config.height)
    speed = config.max_speed * unit

    pan = round(0.08 * unit)
    background = background_texture(scene_rng, config.height + 2 * pan, config.width + 2 * pan)
    drift = np.stack([_smooth_signal(scene_rng, count, pan) for _ in range(2)], axis=1)
    pan_xy = np.rint(pan + (drift if config.camera_motion else np.zeros_like(drift))).astype(int)

    side = target_rng.uniform(*config.target_size) * unit
    sizes = _sizes(target_rng, config, side)
    low = sizes.max(axis=0) / 2 + 2.0
    high = np.maximum(np.array(image_size) - low, low)
    centres = _random_walk(target_rng, count, low, high, speed)
    if config.leave_view:
        _leave_and_return(centres, sizes, image_size, speed)
    target = _boxes(centres, sizes)
    target_texture = object_texture(target_rng)

    layers = []
    for child in children[3:]:
        rng = np.random.default_rng(child)
        boxes = _distractor_boxes(rng, config, side, target[0], speed)
        layers.append((lookalike_texture(rng, target_texture), boxes, _blur(boxes, config.blur)))
    layers.append((target_texture, target, _blur(target, config.blur)))

    occluder = _occluder_boxes(event_rng, target, config, speed) if config.occlusion else None
    if occluder is not None:
        layers.append((occluder_texture(event_rng), occluder, _blur(occluder, config.blur)))
    gains = _lighting(event_rng, count) if config.lighting else None
    visible_fraction = _visible_fraction(target, occluder, image_size)
    frames = SceneFrames(background, pan_xy, image_size, layers, gains)
    return Scene(config, seed, frames, target, visible_fraction,
                 visible_fraction >= config.min_visible_fraction)
