"""Crops: the ground truth lands on the target's pixels, flips move box and pixels together."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.tracking.crop import IMAGENET_MEAN, IMAGENET_STD
from stt_tracker_ros.training.processing import (Augmentation, CropSpec, PairProcessor,
                                                 covers_features, flip_horizontal, jitter_box,
                                                 network_image)

NO_AUGMENTATION = Augmentation(grayscale_prob=0.0, flip_prob=0.0, brightness_jitter=0.0)
BOX = np.array([50.0, 40.0, 40.0, 30.0])


def frame_with_target(box: np.ndarray = BOX) -> np.ndarray:
    frame = np.full((160, 200, 3), 30, np.uint8)
    x, y, w, h = box.astype(int)
    frame[y:y + h, x:x + w] = (250, 120, 10)
    return frame


def pixels(image: torch.Tensor, brightness: float | torch.Tensor = 1.0) -> np.ndarray:
    """The network input of a uint8 crop, un-normalised: [3, S, S] -> [S, S, 3] in [0, 255]."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    normalised = network_image(image, torch.as_tensor(brightness))
    return ((normalised * std + mean) * 255).permute(1, 2, 0).numpy()


def target_extent(image: torch.Tensor) -> np.ndarray:
    """(x, y, w, h) in crop pixels of the bright-red pixels of a crop."""
    rows, cols = np.nonzero(pixels(image)[:, :, 0] > 140)
    return np.array([cols.min(), rows.min(), cols.max() + 1 - cols.min(),
                     rows.max() + 1 - rows.min()], float)


def test_unjittered_search_box_is_centred_and_scaled_into_the_crop():
    processor = PairProcessor(CropSpec(2.0, 64, 0, 0), CropSpec(4.0, 128, 0, 0), NO_AUGMENTATION)
    crop = processor.crop(np.random.default_rng(0), frame_with_target(), BOX, processor.search)
    side = np.ceil(np.sqrt(40 * 30) * 4.0)                    # 139 frame pixels -> 128
    w, h = 40 * 128 / side, 30 * 128 / side
    expected = np.array([63.5 - w / 2, 63.5 - h / 2, w, h]) / 128   # centre at (128 - 1) / 2
    assert crop.box.numpy() == pytest.approx(expected, abs=1e-6)
    assert crop.box.numpy() * 128 == pytest.approx(target_extent(crop.image), abs=1.5)
    # The 139 px window starts 14 px above the frame: the top 14 * 128 / 139 rows are padding.
    assert crop.mask[:12].all() and not crop.mask[14:].any()


def test_sample_holds_templates_search_box_and_label():
    processor = PairProcessor(CropSpec(2.0, 64, 0, 0), CropSpec(4.0, 128, 0, 0), NO_AUGMENTATION)
    frame = frame_with_target()
    sample = processor(np.random.default_rng(0), [frame, frame], [BOX, BOX], frame, BOX, 0.0)
    assert sample['template_images'].shape == (2, 3, 64, 64)
    assert sample['search_image'].shape == (3, 128, 128)
    assert sample['label'].item() == 0.0
    template_box = target_extent(sample['template_images'][0])
    assert template_box[2] == pytest.approx(40 * 64 / np.ceil(np.sqrt(1200) * 2), abs=1.5)


def test_frame_flip_mirrors_the_box_with_the_pixels():
    frame = frame_with_target()
    flipped, box = flip_horizontal(frame, BOX)
    assert box.tolist() == [200 - 50 - 40, 40.0, 40.0, 30.0]
    x, y, w, h = box.astype(int)
    assert (flipped[y:y + h, x:x + w] == (250, 120, 10)).all()
    assert (flipped[:, :x] == 30).all() and (flipped[:, x + w:] == 30).all()


def test_crop_flip_mirrors_image_mask_and_box():
    box = np.array([5.0, 40.0, 40.0, 30.0])       # near the left edge: the crop has padding
    frame = frame_with_target(box)
    spec = CropSpec(4.0, 128, 0.0, 0.0)
    plain = PairProcessor(spec, spec, NO_AUGMENTATION).crop(np.random.default_rng(1), frame,
                                                            box, spec)
    mirrored = PairProcessor(spec, spec, NO_AUGMENTATION._replace(flip_prob=1.0)).crop(
        np.random.default_rng(1), frame, box, spec)
    assert torch.equal(mirrored.image, plain.image.flip(-1))
    assert torch.equal(mirrored.mask, plain.mask.flip(-1))
    assert plain.mask[:, 0].all() and mirrored.mask[:, -1].all()
    x, y, w, h = plain.box.tolist()
    assert mirrored.box.tolist() == pytest.approx([1 - x - w, y, w, h])
    assert mirrored.box.numpy() * 128 == pytest.approx(target_extent(mirrored.image), abs=1.5)


def test_joint_augmentation_keeps_every_crop_on_its_target():
    processor = PairProcessor(CropSpec(2.0, 64, 0, 0), CropSpec(4.0, 128, 0.3, 1.0),
                              Augmentation(grayscale_prob=0.0, flip_prob=0.5,
                                           brightness_jitter=0.0))
    frame = frame_with_target()
    for seed in range(8):
        sample = processor(np.random.default_rng(seed), [frame], [BOX], frame, BOX, 1.0)
        extent = target_extent(sample['search_image'])
        assert sample['search_box'].numpy() * 128 == pytest.approx(extent, abs=1.5)


def test_grayscale_and_brightness():
    processor = PairProcessor(CropSpec(2.0, 64, 0, 0), CropSpec(4.0, 128, 0, 0),
                              Augmentation(grayscale_prob=1.0, flip_prob=0.0,
                                           brightness_jitter=0.2))
    frame = frame_with_target()
    sample = processor(np.random.default_rng(0), [frame], [BOX], frame, BOX, 1.0)
    assert sample['search_image'].dtype == torch.uint8
    values = pixels(sample['search_image'], sample['search_brightness'])
    assert np.abs(values[..., 0] - values[..., 1]).max() < 1e-3
    background = values[-1, 0, 0]                 # a frame pixel (the top rows are padding)
    assert 30 * 0.8 - 0.01 <= background <= 30 * 1.2 + 0.01 and background != pytest.approx(30)


def test_jitter_statistics():
    rng = np.random.default_rng(0)
    boxes = np.array([jitter_box(rng, BOX, 0.5, 4.5) for _ in range(4000)])
    log_scale = np.log(boxes[:, 2:] / BOX[2:])
    assert log_scale.std() == pytest.approx(0.5, rel=0.05)
    centres = boxes[:, :2] + boxes[:, 2:] / 2 - (BOX[:2] + BOX[2:] / 2)
    limit = 4.5 / 2 * np.sqrt(boxes[:, 2] * boxes[:, 3])
    assert (np.abs(centres) <= limit[:, None] + 1e-9).all()
    assert (np.abs(centres) > 0.9 * limit[:, None]).any()


def test_crops_of_pure_padding_are_rejected():
    mask = np.ones((128, 128), bool)
    mask[1:15, 1:15] = False            # real pixels, but none on the stride-16 grid
    assert not covers_features(mask, 16)
    mask[16, 16] = False
    assert covers_features(mask, 16)
    processor = PairProcessor(CropSpec(2.0, 64, 0, 0), CropSpec(4.0, 128, 0, 0), NO_AUGMENTATION)
    far = np.array([-900.0, -900.0, 20.0, 20.0])
    assert processor.crop(np.random.default_rng(0), frame_with_target(), far,
                          processor.search) is None


def test_network_image_scales_clips_and_normalises():
    images = torch.tensor([[100, 200]], dtype=torch.uint8).expand(2, 3, 1, 2)   # [2, 3, 1, 2]
    result = network_image(images, torch.tensor([1.0, 1.5]))
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    expected = torch.stack([torch.tensor([[100.0, 200.0]]), torch.tensor([[150.0, 255.0]])])
    expected = (expected[:, None] / 255.0 - mean) / std              # 200 * 1.5 clips at 255
    torch.testing.assert_close(result, expected)
