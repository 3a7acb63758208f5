"""sensor_msgs Image / CompressedImage to the tracker's HxWx3 uint8 RGB arrays.

Raw images go through cv_bridge when it is importable (it also knows Bayer, YUV, ...), else
through our own decoder (numpy views on the message buffer, honouring `step` row padding and
`is_bigendian`) for the encodings in `ENCODINGS`. Ours also takes over when cv_bridge fails on
an encoding we know: Humble/Jazzy cv_bridge breaks on byte-swapped data under NumPy 2
(vision_opencv #535). The header is always checked by us first, so every failure is an
`ImageDecodeError` with the same wording whichever decoder runs.
"""
import array
from dataclasses import dataclass

import cv2
import numpy as np

try:  # optional: a pip-only environment has no cv_bridge
    from cv_bridge import CvBridge
    _BRIDGE = CvBridge()
except Exception:  # noqa: BLE001 - ImportError, or a NumPy ABI error raised while importing
    _BRIDGE = None


class ImageDecodeError(ValueError):
    """An image message that cannot become an RGB frame; the message says why."""


@dataclass(frozen=True)
class PixelFormat:
    """Memory layout of one sensor_msgs encoding.

    Attributes:
        channels: values per pixel.
        bytes_per_channel: 1 (uint8) or 2 (uint16).
        to_rgb: cv2.cvtColor code producing RGB, or None when the layout already is RGB.
    """

    channels: int
    bytes_per_channel: int
    to_rgb: int | None


ENCODINGS: dict[str, PixelFormat] = {
    'rgb8': PixelFormat(3, 1, None),
    'bgr8': PixelFormat(3, 1, cv2.COLOR_BGR2RGB),
    'rgba8': PixelFormat(4, 1, cv2.COLOR_RGBA2RGB),
    'bgra8': PixelFormat(4, 1, cv2.COLOR_BGRA2RGB),
    'mono8': PixelFormat(1, 1, cv2.COLOR_GRAY2RGB),
    '8UC3': PixelFormat(3, 1, cv2.COLOR_BGR2RGB),   # OpenCV's default channel order
    'rgb16': PixelFormat(3, 2, None),
    'bgr16': PixelFormat(3, 2, cv2.COLOR_BGR2RGB),
    'rgba16': PixelFormat(4, 2, cv2.COLOR_RGBA2RGB),
    'bgra16': PixelFormat(4, 2, cv2.COLOR_BGRA2RGB),
    'mono16': PixelFormat(1, 2, cv2.COLOR_GRAY2RGB),
}


def check_geometry(encoding: str, height: int, width: int, step: int, data_len: int) -> None:
    """Raise ImageDecodeError unless the header describes a buffer we can read.

    Only size and layout are checked (cheap, no pixel is touched). Encodings outside
    `ENCODINGS` pass when cv_bridge is available to decode them.
    """
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f'image has zero size ({width}x{height})')
    fmt = ENCODINGS.get(encoding)
    if fmt is None:
        if _BRIDGE is not None:
            return
        raise ImageDecodeError(
            f'unsupported encoding {encoding!r}; supported: {", ".join(ENCODINGS)}')
    row_bytes = width * fmt.channels * fmt.bytes_per_channel
    if step < row_bytes:
        raise ImageDecodeError(
            f'step {step} is smaller than one {encoding} row of {width} pixels ({row_bytes} B)')
    # The last row only needs its pixels, not its padding, but publishers always send full rows.
    if data_len != step * height:
        raise ImageDecodeError(
            f'data length {data_len} B does not match step x height = {step} x {height}')


def pixels_from_buffer(data, encoding: str, height: int, width: int, step: int,
                       is_bigendian: bool) -> np.ndarray:
    """View a raw image buffer as an [H, W, C] array in the encoding's own channel order.

    Args:
        data: the message's bytes (bytes, bytearray, array.array or a uint8 numpy array).
        encoding: a key of `ENCODINGS`.
        height, width: image size in pixels.
        step: bytes per row including padding.
        is_bigendian: byte order of 16-bit values.

    Returns:
        [H, W, C] uint8 or uint16 (native byte order); a view on `data` when no byte swap is
        needed, so callers must copy before writing into it.

    Raises:
        ImageDecodeError: bad size, step or data length, or an unsupported encoding.
    """
    check_geometry(encoding, height, width, step, len(data))
    fmt = ENCODINGS.get(encoding)
    if fmt is None:
        raise ImageDecodeError(f'unsupported encoding {encoding!r}')
    flat = np.frombuffer(data, dtype=np.uint8)
    rows = flat.reshape(height, step)[:, :width * fmt.channels * fmt.bytes_per_channel]
    if fmt.bytes_per_channel == 1:
        return rows.reshape(height, width, fmt.channels)
    dtype = np.dtype('>u2' if is_bigendian else '<u2')
    # A row slice of a padded buffer is not contiguous; .view needs contiguous last axis only.
    wide = np.ascontiguousarray(rows).view(dtype).reshape(height, width, fmt.channels)
    return wide.astype(np.uint16, copy=False)


def pixels_to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Convert an [H, W, C] array of `encoding` to [H, W, 3] uint8 RGB.

    16-bit values are scaled by 255/65535 (rounded). The result never shares memory with
    `pixels`, so it stays valid after the message is gone and may be drawn on.
    """
    fmt = ENCODINGS[encoding]
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if fmt.to_rgb is None:
        return np.array(pixels, dtype=np.uint8, copy=True)
    if fmt.channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(pixels), fmt.to_rgb)


def image_to_rgb(msg) -> np.ndarray:
    """Decode a sensor_msgs/Image into an [H, W, 3] uint8 RGB array (a fresh copy).

    Raises:
        ImageDecodeError: unsupported encoding, zero size, bad step or data length.
    """
    encoding = msg.encoding
    check_geometry(encoding, msg.height, msg.width, msg.step, len(msg.data))
    if _BRIDGE is not None:
        try:
            return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding='rgb8'), copy=True)
        except Exception as error:  # noqa: BLE001 - cv_bridge raises several unrelated types
            if encoding not in ENCODINGS:
                raise ImageDecodeError(f'cv_bridge cannot convert {encoding!r}: {error}') \
                    from None
    pixels = pixels_from_buffer(msg.data, encoding, msg.height, msg.width, msg.step,
                                bool(msg.is_bigendian))
    return pixels_to_rgb8(pixels, encoding)


def compressed_to_rgb(msg) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (JPEG, PNG, ...) into [H, W, 3] uint8 RGB.

    Raises:
        ImageDecodeError: empty or undecodable data.
    """
    if len(msg.data) == 0:
        raise ImageDecodeError('compressed image has no data')
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageDecodeError(f'cannot decode compressed image (format {msg.format!r})')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_image(msg) -> None:
    """Cheap validity check of a sensor_msgs/Image without decoding it (see check_geometry)."""
    check_geometry(msg.encoding, msg.height, msg.width, msg.step, len(msg.data))


def rgb_to_image_fields(rgb: np.ndarray) -> dict:
    """Fields of an rgb8 sensor_msgs/Image holding `rgb` ([H, W, 3] uint8), header excluded.

    `data` is an array.array('B'): rclpy stores that as is, while bytes or lists are checked
    value by value in Python (about a second for a 1080p frame where the checks are on).
    """
    height, width = rgb.shape[:2]
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(rgb).reshape(-1).data)
    return {'height': height, 'width': width, 'encoding': 'rgb8', 'is_bigendian': 0,
            'step': width * 3, 'data': data}
