"""Image / CompressedImage decoding against expectations built by hand, byte by byte.

The expected buffers are written the way cv_bridge's cv2_to_imgmsg lays them out (rows of
`step` bytes, channel order given by the encoding, 16-bit values in the stated byte order),
then decoded; the result must be the original RGB image exactly.
"""
import numpy as np
import pytest

pytest.importorskip('rclpy')

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from stt_tracker_ros.ros import image_decoding  # noqa: E402
from stt_tracker_ros.ros.image_decoding import (ImageDecodeError, compressed_to_rgb,  # noqa: E402
                                                image_to_rgb, pixels_from_buffer,
                                                rgb_to_image_fields)

pytestmark = pytest.mark.ros
HEIGHT, WIDTH, PAD = 3, 5, 3   # odd sizes and row padding catch stride mistakes


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def by_hand(pixels: list[list[list[int]]], bytes_per_value: int, big_endian: bool,
            pad: int = PAD) -> bytes:
    """Serialise rows of pixels (lists of channel values), padding each row with 0xEE."""
    out = bytearray()
    for row in pixels:
        for pixel in row:
            for value in pixel:
                out += int(value).to_bytes(bytes_per_value, 'big' if big_endian else 'little')
        out += b'\xee' * pad
    return bytes(out)


def message(data: bytes, encoding: str, row_bytes: int, big_endian: bool = False,
            pad: int = PAD) -> Image:
    return Image(height=HEIGHT, width=WIDTH, encoding=encoding, is_bigendian=int(big_endian),
                 step=row_bytes + pad, data=data)


@pytest.mark.parametrize('encoding, order, alpha', [
    ('rgb8', (0, 1, 2), False), ('bgr8', (2, 1, 0), False), ('8UC3', (2, 1, 0), False),
    ('rgba8', (0, 1, 2), True), ('bgra8', (2, 1, 0), True)])
def test_colour_8bit(rgb, encoding, order, alpha):
    pixels = [[[p[c] for c in order] + ([200] if alpha else []) for p in row] for row in rgb]
    channels = 4 if alpha else 3
    decoded = image_to_rgb(message(by_hand(pixels, 1, False), encoding, WIDTH * channels))
    np.testing.assert_array_equal(decoded, rgb)


def test_mono8_is_replicated_to_three_channels(rgb):
    gray = rgb[:, :, 0]
    decoded = image_to_rgb(message(by_hand([[[g] for g in row] for row in gray], 1, False),
                                   'mono8', WIDTH))
    np.testing.assert_array_equal(decoded, np.repeat(gray[:, :, None], 3, axis=2))


@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('encoding, channels', [('mono16', 1), ('rgb16', 3), ('bgr16', 3)])
def test_16bit_in_either_byte_order(encoding, channels, big_endian):
    values = np.random.default_rng(3).integers(0, 65536, (HEIGHT, WIDTH, channels))
    values[0, 0] = 65535
    values[0, 1] = 0
    data = by_hand(values.tolist(), 2, big_endian)
    decoded = image_to_rgb(message(data, encoding, WIDTH * channels * 2, big_endian))
    expected = np.rint(values * 255.0 / 65535.0).astype(np.uint8)
    if encoding == 'bgr16':
        expected = expected[:, :, ::-1]
    if channels == 1:
        expected = np.repeat(expected, 3, axis=2)
    np.testing.assert_array_equal(decoded, expected)


def test_result_is_a_writable_copy(rgb):
    msg = message(by_hand(rgb.tolist(), 1, False), 'rgb8', WIDTH * 3)
    decoded = image_to_rgb(msg)
    decoded[:] = 0
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)
    assert decoded.flags.c_contiguous and decoded.dtype == np.uint8


def test_unpadded_buffer_is_a_view():
    data = bytes(range(HEIGHT * WIDTH * 3))
    view = pixels_from_buffer(data, 'rgb8', HEIGHT, WIDTH, WIDTH * 3, False)
    assert not view.flags.owndata and view.shape == (HEIGHT, WIDTH, 3)


def test_round_trip_through_image_fields(rgb):
    assert np.array_equal(image_to_rgb(Image(**rgb_to_image_fields(rgb))), rgb)


@pytest.mark.parametrize('change, reason', [
    ({'encoding': 'yuv999'}, 'unsupported encoding'),
    ({'width': 0}, 'zero size'),
    ({'height': 0}, 'zero size'),
    ({'step': WIDTH * 3 - 1}, 'step'),
    ({'data': bytes(HEIGHT * (WIDTH * 3 + PAD) - 1)}, 'data length'),
    ({'data': bytes(HEIGHT * (WIDTH * 3 + PAD) + 4)}, 'data length'),
])
def test_bad_images_raise_with_a_reason(rgb, change, reason):
    msg = message(by_hand(rgb.tolist(), 1, False), 'rgb8', WIDTH * 3)
    for name, value in change.items():
        setattr(msg, name, value)
    if reason == 'unsupported encoding' and image_decoding._BRIDGE is not None:
        reason = 'cv_bridge'
    with pytest.raises(ImageDecodeError, match=reason):
        image_to_rgb(msg)


def test_compressed_png_is_exact_and_jpeg_close(rgb):
    cv2 = pytest.importorskip('cv2')
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    png = CompressedImage(format='png', data=cv2.imencode('.png', bgr)[1].tobytes())
    np.testing.assert_array_equal(compressed_to_rgb(png), rgb)
    flat = np.full((16, 16, 3), (30, 120, 220), np.uint8)
    jpeg = CompressedImage(format='rgb8; jpeg compressed bgr8',
                           data=cv2.imencode('.jpg', flat[:, :, ::-1])[1].tobytes())
    assert np.abs(compressed_to_rgb(jpeg).astype(int) - flat).max() <= 3


@pytest.mark.parametrize('data, reason', [(b'', 'no data'), (b'not an image', 'cannot decode')])
def test_bad_compressed_images_raise(data, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        compressed_to_rgb(CompressedImage(format='jpeg', data=data))
