"""Synthetic scenes: reproducibility, exact boxes, visibility events and the Sequence view."""
import cv2
import numpy as np
import pytest

from stt_tracker_ros.data.compositing import paste_xywh
from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.data.textures import lookalike_texture, object_texture

SMALL = SceneConfig(width=160, height=120, num_frames=30)


def _coverage_stats(canvas: np.ndarray) -> tuple[float, float, float]:
    """Covered area and coverage-weighted centre of a white-on-black paste."""
    alpha = canvas[..., 0].astype(np.float64) / 255.0
    rows, cols = np.mgrid[:canvas.shape[0], :canvas.shape[1]]
    area = alpha.sum()
    return area, (alpha * (cols + 0.5)).sum() / area, (alpha * (rows + 0.5)).sum() / area


@pytest.mark.parametrize('box', [(10.25, 20.5, 30.5, 15.75), (3.0, 4.0, 7.0, 9.0),
                                 (40.6, 8.1, 55.3, 60.9)])
def test_paste_is_subpixel_exact(box):
    canvas = np.zeros((100, 120, 3), np.uint8)
    paste_xywh(canvas, np.full((64, 64, 3), 255, np.uint8), box)
    area, cx, cy = _coverage_stats(canvas)
    x, y, w, h = box
    assert area == pytest.approx(w * h, rel=0.01)
    assert cx == pytest.approx(x + w / 2, abs=0.05)
    assert cy == pytest.approx(y + h / 2, abs=0.05)


def test_paste_blur_spreads_but_keeps_mass_and_centre():
    sharp = np.zeros((80, 80, 3), np.uint8)
    blurred = sharp.copy()
    texture = np.full((32, 32, 3), 255, np.uint8)
    paste_xywh(sharp, texture, (30.0, 30.0, 20.0, 20.0))
    paste_xywh(blurred, texture, (30.0, 30.0, 20.0, 20.0), blur_xy=(10.0, 0.0))
    assert _coverage_stats(blurred)[0] == pytest.approx(400.0, rel=0.02)
    assert _coverage_stats(blurred)[1] == pytest.approx(40.0, abs=0.1)
    assert np.count_nonzero(blurred[..., 0]) > np.count_nonzero(sharp[..., 0]) + 100


def test_paste_outside_canvas_is_clipped():
    canvas = np.zeros((50, 50, 3), np.uint8)
    paste_xywh(canvas, np.full((8, 8, 3), 255, np.uint8), (-10.0, 40.0, 20.0, 20.0))
    assert _coverage_stats(canvas)[0] == pytest.approx(10.0 * 10.0, rel=0.02)
    untouched = np.zeros((50, 50, 3), np.uint8)
    paste_xywh(untouched, np.full((8, 8, 3), 255, np.uint8), (60.0, 60.0, 5.0, 5.0))
    assert not untouched.any()


def test_same_seed_same_scene_other_seed_differs():
    first, again, other = (generate_scene(SMALL, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first.boxes, again.boxes)
    np.testing.assert_array_equal(first.visible, again.visible)
    for index in (0, 13, -1):
        np.testing.assert_array_equal(first.frames[index], again.frames[index])
    assert not np.allclose(first.boxes, other.boxes)
    assert not np.array_equal(first.frames[0], other.frames[0])


def test_frames_shape_indexing_and_iteration():
    scene = generate_scene(SMALL, 1)
    assert len(scene.frames) == 30
    assert scene.boxes.shape == (30, 4) and scene.visible.shape == (30,)
    frames = list(scene.frames)
    assert len(frames) == 30
    assert frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
    np.testing.assert_array_equal(scene.frames[-1], frames[29])
    np.testing.assert_array_equal(scene.frames[5], frames[5])   # random access = sequential
    with pytest.raises(IndexError):
        scene.frames[30]


def test_target_starts_visible_and_moves_smoothly():
    config = SceneConfig(num_frames=80, distractors=2)
    for seed in range(5):
        scene = generate_scene(config, seed)
        assert scene.visible_fraction[0] == 1.0
        centres = scene.boxes[:, :2] + scene.boxes[:, 2:] / 2
        steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
        assert steps.max() <= config.max_speed * 480 * 1.01
        assert steps.sum() > 100.0                            # it does move
        ratio = scene.boxes[1:, 2:] / scene.boxes[:-1, 2:]
        assert np.all(np.abs(np.log(ratio)) < 0.05)           # size changes gradually


def test_boxes_follow_the_rendered_target():
    """The crop at the GT box keeps looking like frame 0's crop; a shifted crop does not."""
    config = SceneConfig(num_frames=40, occlusion=False, blur=False, lighting=False)
    scene = generate_scene(config, 3)

    def crop(frame, box):
        x, y, w, h = box
        warp = np.array([[w / 32, 0.0, x], [0.0, h / 32, y]])
        return cv2.warpAffine(frame, warp, (32, 32), flags=cv2.WARP_INVERSE_MAP
                              | cv2.INTER_AREA).astype(np.float64)

    reference = crop(scene.frames[0], scene.boxes[0])
    for index in (10, 25, 39):
        box = scene.boxes[index]
        aligned = np.abs(crop(scene.frames[index], box) - reference).mean()
        shifted = box + np.array([0.3 * box[2], 0.3 * box[3], 0.0, 0.0])
        misaligned = np.abs(crop(scene.frames[index], shifted) - reference).mean()
        assert aligned < 12.0
        assert misaligned > 2.0 * aligned


def test_occlusion_hides_the_target_for_a_while():
    config = SceneConfig(num_frames=60, occlusion=True, distractors=0)
    for seed in range(3):
        scene = generate_scene(config, seed)
        hidden = np.flatnonzero(~scene.visible)
        assert 30 in hidden                    # the occluder is centred on the target at 0.5 N
        assert scene.visible[:5].all() and scene.visible[-5:].all()
        assert 1 <= len(hidden) <= 15
        assert np.all(scene.visible_fraction[hidden] < config.min_visible_fraction)


def test_leave_view_goes_out_and_comes_back():
    config = SceneConfig(num_frames=100, occlusion=False, leave_view=True)
    for seed in range(3):
        scene = generate_scene(config, seed)
        boxes = scene.boxes
        outside = ((boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 0] >= 640)
                   | (boxes[:, 1] + boxes[:, 3] <= 0) | (boxes[:, 1] >= 480))
        assert outside.any()
        assert not scene.visible[outside].any()
        assert scene.visible[-1]


def test_to_sequence_clips_and_blanks_hidden_frames():
    config = SceneConfig(width=200, height=150, num_frames=60, leave_view=True)
    scene = generate_scene(config, 4)
    sequence = scene.to_sequence()
    assert sequence.name == 'synthetic_4' and len(sequence) == 60
    np.testing.assert_array_equal(sequence.visible, scene.visible)
    assert np.isnan(sequence.boxes[~sequence.visible]).all()
    shown = sequence.boxes[sequence.visible]
    assert (shown[:, :2] >= 0).all()
    assert (shown[:, 0] + shown[:, 2] <= 200 + 1e-9).all()
    assert (shown[:, 1] + shown[:, 3] <= 150 + 1e-9).all()
    np.testing.assert_array_equal(sequence.frames[3], scene.frames[3])


def _hue_histogram(texture: np.ndarray) -> np.ndarray:
    """Share of pixels in each 30-degree hue bin."""
    hue = cv2.cvtColor(texture, cv2.COLOR_RGB2HSV)[..., 0].ravel() // 15
    return np.bincount(hue, minlength=12) / hue.size


def test_lookalike_shares_colours_but_not_pixels():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        target = object_texture(rng)
        lookalike = lookalike_texture(rng, target)
        unrelated = object_texture(rng)
        same_colours = np.minimum(_hue_histogram(target), _hue_histogram(lookalike)).sum()
        other_colours = np.minimum(_hue_histogram(target), _hue_histogram(unrelated)).sum()
        assert same_colours > 0.75 and same_colours > other_colours + 0.3
        assert np.abs(target.astype(int) - lookalike.astype(int)).mean() > 20.0


def test_distractor_is_drawn_without_moving_the_target():
    plain = dict(num_frames=5, occlusion=False, blur=False, lighting=False)
    alone = generate_scene(SceneConfig(distractors=0, **plain), 11)
    crowded = generate_scene(SceneConfig(distractors=2, **plain), 11)
    np.testing.assert_array_equal(alone.boxes, crowded.boxes)   # independent random streams
    changed = np.abs(crowded.frames[0].astype(int) - alone.frames[0].astype(int)).sum(axis=2)
    assert np.count_nonzero(changed) > 1000
    x, y, w, h = crowded.boxes[0]
    inside = changed[int(y) + 1:int(y + h) - 1, int(x) + 1:int(x + w) - 1]
    assert not inside.any()                  # distractors start apart and are drawn behind


@pytest.mark.parametrize('bad', [dict(width=10), dict(num_frames=0), dict(distractors=-1),
                                 dict(target_size=(0.3, 0.2))])
def test_invalid_config_is_rejected(bad):
    with pytest.raises(ValueError):
        SceneConfig(**bad)
