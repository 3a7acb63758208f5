"""The default model shipped in the package: small enough, loadable, and actually trained."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.config import ModelConfig, network_config
from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.evaluation.metrics import iou_xywh
from stt_tracker_ros.model.checkpoint import read_checkpoint
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.factory import DEFAULT_CHECKPOINT, build_tracker
from stt_tracker_ros.tracking.tracker import StarkTracker

MODEL_CONFIGS = DEFAULT_CHECKPOINT.parents[2] / 'config' / 'models'
SEEDS = (1000001, 1000002, 1000003, 1000004)   # scenes no training run has seen


FRAMES = 16


def _mean_iou(tracker: StarkTracker, seeds: tuple[int, ...] = SEEDS) -> float:
    ious = []
    for seed in seeds:
        scene = generate_scene(SceneConfig(width=320, height=240, num_frames=FRAMES,
                                           leave_view=False), seed).to_sequence()
        tracker.initialize(scene.frames[0], scene.boxes[0])
        boxes = np.array([tracker.track(scene.frames[i]).box_xywh for i in range(1, FRAMES)])
        ious.append(np.nanmean(iou_xywh(boxes, scene.boxes[1:FRAMES])))
    return float(np.mean(ious))


pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(),
                                reason='no default model in this checkout')


def shipped_configuration() -> ModelConfig:
    """The network of config/models/ that the default model's metadata names."""
    _, metadata = read_checkpoint(DEFAULT_CHECKPOINT)
    return network_config(str(MODEL_CONFIGS / f'stark_{metadata["variant"]}.yaml'))


def test_default_model_file_is_a_configuration_of_the_package():
    assert DEFAULT_CHECKPOINT.stat().st_size <= 25 * 1024 * 1024
    state, _ = read_checkpoint(DEFAULT_CHECKPOINT)
    assert all(v.dtype in (torch.float16, torch.int64) for v in state.values())
    assert build_tracker(None, device='cpu').model.config == shipped_configuration()


def test_default_model_follows_targets_far_better_than_random_weights():
    torch.manual_seed(0)
    untrained = build_stark(shipped_configuration()).eval()
    trained_iou = _mean_iou(build_tracker(None, device='cpu'))
    random_iou = _mean_iou(StarkTracker(untrained), SEEDS[:2])
    print(f'mean IoU: trained {trained_iou:.3f}, random {random_iou:.3f}')   # pytest -rP
    assert trained_iou > 0.25 and trained_iou > 5 * random_iou   # measured: 0.325 and 0.015
