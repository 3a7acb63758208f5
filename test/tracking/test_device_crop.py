"""The torch crop (GPU path) equals the OpenCV crop: one grey level at most, identical masks."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.parity import fixture_frames, fixture_model
from stt_tracker_ros.tracking.crop import IMAGENET_STD, crop_and_resize, to_model_input
from stt_tracker_ros.tracking.device_crop import crop_batch_on_device, frame_to_device
from stt_tracker_ros.tracking.tracker import StarkTracker

BOXES = [(300, 200, 50, 40), (0, 0, 30, 30), (600, 440, 40, 40), (10, 300, 200, 150),
         (320.3, 240.7, 7, 9), (100, 100, 300, 250)]
GREY_LEVEL = 1.0 / 255 / min(IMAGENET_STD)  # one grey level after normalisation


def _compare(device):
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    on_device = frame_to_device(frame, device)
    for factor, size in ((5.0, 320), (2.0, 128)):
        images, masks, factors = crop_batch_on_device(on_device, BOXES, factor, size)
        assert images.shape == (len(BOXES), 3, size, size)
        assert masks.shape == (len(BOXES), size, size)
        for index, box in enumerate(BOXES):
            crop = crop_and_resize(frame, box, factor, size)
            image, mask = to_model_input(crop)
            assert (images[index:index + 1].cpu() - image).abs().max() <= GREY_LEVEL + 1e-5
            assert torch.equal(masks[index:index + 1].cpu(), mask)
            assert factors[index] == crop.resize_factor
            alone, alone_mask, _ = crop_batch_on_device(on_device, [box], factor, size)
            assert torch.equal(alone, images[index:index + 1])   # a batch changes nothing
            assert torch.equal(alone_mask, masks[index:index + 1])


def test_torch_crop_matches_opencv_on_cpu():
    _compare('cpu')


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_gpu_crop_matches_opencv():
    _compare('cuda')


def test_tracker_with_device_crop_stays_on_reference(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        data = {k: archive[k] for k in archive.files if k.startswith('tracker') or k == 'salt'}
    tracker = StarkTracker(fixture_model('st50', int(data['salt'])), TrackerConfig(
        update_interval=int(data['tracker/update_interval']), lost_threshold=0.0))
    tracker.device_crop = True
    frames = fixture_frames(data)
    tracker.initialize(frames[0], data['tracker/init_box'])
    results = [tracker.track(frame) for frame in frames[1:]]
    # Measured: 0.03 px and 1.2e-4 (one-grey-level crop differences through random weights).
    np.testing.assert_allclose([r.box_xywh for r in results], data['tracker/boxes'][1:],
                               atol=0.1)
    np.testing.assert_allclose([r.confidence for r in results], data['tracker/conf'][1:],
                               atol=5e-4)
