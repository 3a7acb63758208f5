"""A crop costs what its output costs, not what its box asks for: windows up to EXACT_MAX_SIDE
are padded and resized exactly as the reference does, larger ones are sampled at the output
pixels and stay within one grey level of the reference."""
import tracemalloc

import cv2
import numpy as np
import pytest

from stt_tracker_ros.tracking.crop import (EXACT_MAX_SIDE, crop_and_resize, padded_window,
                                           sample_window)


def reference_patch(frame, window, size):
    """The official code's crop: pad the whole window, then resize."""
    padded = cv2.copyMakeBorder(frame[window.inside()], window.top, window.bottom, window.left,
                                window.right, cv2.BORDER_CONSTANT)
    return cv2.resize(padded, (size, size))


@pytest.fixture
def frame():
    return np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_sampling_is_within_one_grey_level_of_the_reference(frame):
    rng = np.random.default_rng(6)
    differing = total = 0
    for _ in range(150):
        box = (rng.uniform(-80, 220), rng.uniform(-80, 180), rng.uniform(1, 400),
               rng.uniform(1, 400))
        factor, size = float(rng.choice([2.0, 5.0])), int(rng.choice([37, 128, 320]))
        try:
            window = padded_window(box, factor, 120, 160)
        except ValueError:
            continue
        expected = reference_patch(frame, window, size)
        sampled = sample_window(frame, window, size)
        assert np.abs(sampled.astype(int) - expected).max() <= 1, (box, factor, size)
        differing += int((sampled != expected).sum())
        total += expected.size
    assert total and differing / total < 0.05


def test_windows_up_to_the_limit_equal_the_reference_exactly(frame):
    side = EXACT_MAX_SIDE
    box = (80.0 - side / 4, 60.0 - side / 4, side / 2, side / 2)   # factor 2: side x side
    window = padded_window(box, 2.0, 120, 160)
    assert window.side == side
    crop = crop_and_resize(frame, box, 2.0, 128)
    np.testing.assert_array_equal(crop.patch, reference_patch(frame, window, 128))


def test_larger_windows_are_sampled_with_the_reference_mask(frame):
    box = (80.0 - 1500.0, 60.0 - 1500.0, 3000.0, 3000.0)   # search window 15000 px
    crop = crop_and_resize(frame, box, 5.0, 320)
    window = padded_window(box, 5.0, 120, 160)
    np.testing.assert_array_equal(crop.patch, sample_window(frame, window, 320))
    rows, columns = np.nonzero(~crop.mask)   # the frame covers a small patch in the middle
    assert 155 <= rows.min() and rows.max() <= 164 and 155 <= columns.min() <= columns.max()
    assert crop.patch[crop.mask].max() == 0


def test_memory_does_not_grow_with_the_box(frame):
    tracemalloc.start()
    try:
        for side in (3000.0, 10000.0, 65536.0):
            crop_and_resize(frame, (80.0 - side / 2, 60.0 - side / 2, side, side), 5.0, 320)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2 ** 20, f'{peak / 2 ** 20:.0f} MiB'   # the reference: 675 MiB and up
