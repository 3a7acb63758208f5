"""Crop geometry and box mapping follow the reference tracker's conventions."""
import cv2
import numpy as np
import pytest
import torch

from stt_tracker_ros.tracking.boxes import clip_box, crop_box_to_frame, validate_init_box
from stt_tracker_ros.tracking.crop import (crop_and_resize, crop_window, padded_window,
                                           to_model_input)
from stt_tracker_ros.tracking.result import InvalidBoxError


def _gradient_frame(height=200, width=300):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)


def test_inner_crop_has_no_padding_and_equals_resized_slice():
    frame = _gradient_frame()
    crop = crop_and_resize(frame, (120, 80, 20, 20), factor=2.0, output_size=64)
    x1, y1, side = crop_window((120, 80, 20, 20), 2.0)
    assert (x1, y1, side) == (110, 70, 40)
    expected = cv2.resize(frame[70:110, 110:150], (64, 64))
    np.testing.assert_array_equal(crop.patch, expected)
    assert not crop.mask.any() and crop.resize_factor == pytest.approx(64 / 40)


def test_window_rounds_half_to_even_like_python():
    # centre 12.5 - side/2 (5) = 7.5 -> 8 (even); 8.5 -> 8
    assert crop_window((10.0, 0, 5, 5), 2.0)[0] == 8
    assert crop_window((11.0, 0, 5, 5), 2.0)[0] == 8


def test_window_touching_the_right_border_pads_one_extra_column():
    frame = _gradient_frame(100, 100)
    # side 40, x1 = 60, x2 = 100 == width: the reference pads one column and drops one.
    crop = crop_and_resize(frame, (70, 30, 20, 20), factor=2.0, output_size=40)
    assert crop.mask[:, -1].all() and not crop.mask[:, :-1].any()
    np.testing.assert_array_equal(crop.patch[:, -1], 0)
    np.testing.assert_array_equal(crop.patch[:, :-1], frame[20:60, 60:99])


def test_padding_outside_top_left_is_black_and_masked():
    frame = np.full((100, 100, 3), 255, np.uint8)
    crop = crop_and_resize(frame, (0, 0, 10, 10), factor=4.0, output_size=40)
    # side 40 centred on (5, 5): x1 = y1 = -15, so 15 rows/columns of padding.
    assert crop.mask[:15].all() and crop.mask[:, :15].all()
    assert not crop.mask[16:, 16:].any()
    assert (crop.patch[:15] == 0).all() and (crop.patch[16:, 16:] == 255).all()


def test_crop_fully_outside_raises():
    with pytest.raises(ValueError, match='outside'):
        crop_and_resize(_gradient_frame(), (1000, 1000, 10, 10), 2.0, 32)


def test_model_input_normalisation_and_layout():
    crop = crop_and_resize(np.full((50, 50, 3), 255, np.uint8), (20, 20, 10, 10), 2.0, 16)
    image, mask = to_model_input(crop)
    assert image.shape == (1, 3, 16, 16) and mask.shape == (1, 16, 16) and mask.dtype == torch.bool
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(image[0, :, 0, 0], expected)


def test_centred_prediction_maps_back_to_previous_box():
    previous = (40.0, 30.0, 20.0, 10.0)
    side = 100.0
    assert crop_box_to_frame((50.0, 50.0, 20.0, 10.0), previous, side) == pytest.approx(previous)
    shifted = crop_box_to_frame((60.0, 45.0, 20.0, 10.0), previous, side)
    assert shifted == pytest.approx((50.0, 25.0, 20.0, 10.0))


@pytest.mark.parametrize('box, expected', [
    ((-5.0, -5.0, 3.0, 3.0), (0.0, 0.0, 10.0, 10.0)),      # tiny and outside: 10 px margin
    ((95.0, 45.0, 30.0, 30.0), (90.0, 45.0, 10.0, 15.0)),  # past the right/bottom edges
    ((10.0, 10.0, 20.0, 20.0), (10.0, 10.0, 20.0, 20.0)),  # inside: unchanged
])
def test_clip_box(box, expected):
    assert clip_box(box, height=60, width=100) == pytest.approx(expected)


def test_validate_accepts_partly_visible_box():
    assert validate_init_box((-5, -5, 20, 20), 50, 50) == (-5.0, -5.0, 20.0, 20.0)
    with pytest.raises(InvalidBoxError, match='outside'):
        validate_init_box((50, 0, 10, 10), 50, 50)


def test_mask_equals_the_reference_full_size_resize():
    # The reference resizes a float side x side mask; ours resizes its row and column profiles.
    rng = np.random.default_rng(3)
    frame = np.zeros((120, 160, 3), np.uint8)
    for _ in range(300):
        box = (rng.uniform(-30, 170), rng.uniform(-30, 130), rng.uniform(1, 90),
               rng.uniform(1, 90))
        factor, size = (float(rng.choice([2.0, 5.0])), int(rng.choice([128, 320, 37])))
        try:
            w = padded_window(box, factor, 120, 160)
        except ValueError:
            continue
        full = np.ones((w.side, w.side))
        full[w.top:w.side - w.bottom, w.left:w.side - w.right] = 0
        expected = cv2.resize(full, (size, size)).astype(bool)
        np.testing.assert_array_equal(crop_and_resize(frame, box, factor, size).mask, expected)
