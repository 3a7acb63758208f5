"""build_tracker: checkpoint resolution, devices and precision."""
import math

import numpy as np
import pytest
import torch

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.model.checkpoint import CheckpointError, save_safetensors
from stt_tracker_ros.parity import fixture_model
from stt_tracker_ros.model.stark import Stark
from stt_tracker_ros.tracking import factory
from stt_tracker_ros.tracking.cuda_graph import GraphedStark
from stt_tracker_ros.tracking.factory import (build_multi_target_tracker, build_tracker,
                                              resolve_device, resolve_dtype)
from stt_tracker_ros.tracking.result import TrackState


@pytest.fixture(scope='module')
def s50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / 's50.safetensors'
    save_safetensors(fixture_model('s50', salt=2), path)
    return path


def test_checkpoint_file_gives_a_working_tracker(s50_file):
    tracker = build_tracker(str(s50_file), device='cpu')
    assert tracker.model.config.name == 's50' and tracker.dtype == torch.float32
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker.initialize(frame, (60, 40, 30, 30))
    result = tracker.track(frame)
    # No score head: no confidence is computed (NaN), and nothing makes the target LOST.
    assert math.isnan(result.confidence) and result.state == TrackState.TRACKING


def test_multi_target_tracker_uses_the_same_model(s50_file):
    config = TrackerConfig(lost_patience=7)
    tracker = build_multi_target_tracker(str(s50_file), device='cpu', config=config)
    single = build_tracker(str(s50_file), device='cpu', config=config)
    assert tracker.config == config and tracker.model.config.name == 's50'
    frame = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    first, second = tracker.add(frame, (60, 40, 30, 30)), tracker.add(frame, (10, 10, 20, 25))
    single.initialize(frame, (10, 10, 20, 25))
    results = tracker.track(frame)
    assert (first, second) == ('1', '2') and set(results) == {'1', '2'}
    assert results['2'].box_xywh == pytest.approx(single.track(frame).box_xywh, abs=1e-3)


def test_cuda_graphs_do_not_apply_on_the_cpu(s50_file):
    assert isinstance(build_tracker(str(s50_file), device='cpu', cuda_graphs=True).model, Stark)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_graphs_are_the_default_on_cuda(s50_file):
    assert isinstance(build_tracker(str(s50_file), device='cuda').model, GraphedStark)
    plain = build_tracker(str(s50_file), device='cuda', cuda_graphs=False)
    assert isinstance(plain.model, Stark)


def test_half_on_cpu_is_bfloat16(s50_file):
    assert build_tracker(str(s50_file), device='cpu', half=True).dtype == torch.bfloat16
    assert resolve_dtype(torch.device('cuda'), half=True) == torch.float16


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match='absent.safetensors'):
        build_tracker(str(tmp_path / 'absent.safetensors'), device='cpu')


def test_no_checkpoint_and_no_default_model(monkeypatch, tmp_path):
    monkeypatch.setattr(factory, 'DEFAULT_CHECKPOINT', tmp_path / 'default.safetensors')
    with pytest.raises(CheckpointError, match='no default model'):
        build_tracker(None, device='cpu')


def test_default_model_is_used_when_no_checkpoint_is_given(monkeypatch, s50_file):
    monkeypatch.setattr(factory, 'DEFAULT_CHECKPOINT', s50_file)
    assert build_tracker('', device='cpu').model.config.name == 's50'


def test_random_weights_builds_the_variant():
    assert build_tracker(None, 's50', device='cpu', random_weights=True).model.config.name == 's50'


def test_device_resolution():
    assert resolve_device('cpu').type == 'cpu'
    if not torch.cuda.is_available():
        assert resolve_device('auto').type == 'cpu'
        with pytest.raises(ValueError, match='CUDA is not available'):
            resolve_device('cuda')
