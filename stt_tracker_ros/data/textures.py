"""Procedural RGB textures for synthetic scenes: target, look-alikes, clutter and occluder.

All functions draw from the numpy Generator they are given, so a scene is reproducible from its
seed. Textures are HxWx3 uint8 RGB.
"""
import cv2
import numpy as np


def _hsv_color(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    """One RGB colour from hue in degrees and saturation/value in [0, 1]."""
    hsv = np.array([[[hue / 2.0 % 180.0, saturation * 255.0, value * 255.0]]], np.float32)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically, [H, W, 3] float32."""
    aspect = width / height
    grid = rng.random((cells, max(2, round(cells * aspect)), 3), dtype=np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def object_texture(rng: np.random.Generator, height: int = 128, width: int = 128) -> np.ndarray:
    """A saturated, structured pattern that a tracker can tell apart from the background.

    Stripes of a base hue, blobs of contrasting hues and a dark rim give both colour and edges.

    Args:
        rng: random source.
        height: texture rows.
        width: texture columns.

    Returns:
        [height, width, 3] uint8 RGB.
    """
    hue = rng.uniform(0.0, 360.0)
    texture = np.empty((height, width, 3), np.uint8)
    texture[:] = _hsv_color(hue, 0.85, 0.9)
    period = int(rng.integers(10, 20))
    stripe = _hsv_color(hue + 180.0, 0.7, 0.55)
    for start in range(0, width + height, period):
        cv2.line(texture, (start, 0), (start - height, height), stripe, max(2, period // 3))
    for _ in range(int(rng.integers(3, 6))):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(width // 10, width // 4)),
                int(rng.integers(height // 10, height // 4)))
        color = _hsv_color(hue + rng.uniform(90.0, 270.0), rng.uniform(0.6, 1.0),
                           rng.uniform(0.5, 1.0))
        cv2.ellipse(texture, center, axes, rng.uniform(0.0, 180.0), 0, 360, color, -1, cv2.LINE_AA)
    rim = max(2, min(height, width) // 16)
    cv2.rectangle(texture, (0, 0), (width - 1, height - 1), (20, 20, 20), rim)
    return texture


def lookalike_texture(rng: np.random.Generator, texture: np.ndarray) -> np.ndarray:
    """A distractor's texture: the target's pattern mirrored and hue-shifted a little.

    Colour statistics and the pattern's style stay close to the target's; the layout and a slight
    hue difference tell them apart.

    Args:
        rng: random source.
        texture: [H, W, 3] uint8 RGB target texture.

    Returns:
        [H, W, 3] uint8 RGB of the same size.
    """
    flipped = texture[::-1] if rng.random() < 0.5 else texture[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(flipped), cv2.COLOR_RGB2HSV)
    shift = int(rng.integers(4, 9)) * int(rng.choice([-1, 1]))    # 8-16 degrees of hue
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def background_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Muted multi-scale colour noise with scattered shapes, as clutter behind the objects.

    Args:
        rng: random source.
        height: texture rows.
        width: texture columns.

    Returns:
        [height, width, 3] uint8 RGB.
    """
    noise = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((3, 0.45), (12, 0.3), (48, 0.15), (160, 0.1)):
        noise += weight * _smooth_noise(rng, height, width, cells)
    gray = noise.mean(axis=2, keepdims=True)
    texture = np.clip((0.6 * gray + 0.4 * noise) * 255.0, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(20, 40))):
        color = _hsv_color(rng.uniform(0.0, 360.0), rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.8))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(8, max(9, min(height, width) // 8)))
        if rng.random() < 0.5:
            cv2.circle(texture, (x, y), size, color, -1, cv2.LINE_AA)
        else:
            corner = (x + size, y + int(size * rng.uniform(0.3, 2.0)))
            cv2.rectangle(texture, (x, y), corner, color, -1)
    return texture


def occluder_texture(rng: np.random.Generator, height: int = 128, width: int = 128) -> np.ndarray:
    """A greyish brick pattern for the object that passes in front of the target.

    Args:
        rng: random source.
        height: texture rows.
        width: texture columns.

    Returns:
        [height, width, 3] uint8 RGB.
    """
    base = int(rng.integers(90, 150))
    texture = np.full((height, width, 3), base, np.uint8)
    brick_h = max(4, height // 8)
    for row, top in enumerate(range(0, height, brick_h)):
        cv2.line(texture, (0, top), (width, top), (base // 2,) * 3, 2)
        offset = (row % 2) * brick_h
        for left in range(offset, width, 2 * brick_h):
            cv2.line(texture, (left, top), (left, top + brick_h), (base // 2,) * 3, 2)
    return texture
