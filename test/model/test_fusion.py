"""The inference rewrites (BatchNorm folding, merged corner towers) keep STARK's outputs, on the
CPU and (GPU only) on CUDA as the tracker runs them, in float32 and float16."""
import numpy as np
import pytest
import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.model.fusion import fold_batchnorm, merge_corner_towers
from stt_tracker_ros.parity import HALF_TOLERANCE, _model_input, fixture_model
from stt_tracker_ros.tracking.factory import prepare_for_inference


@pytest.fixture(scope='module')
def data(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        return {k: archive[k] for k in archive.files if k.startswith('st50') or k == 'salt'}


def _assert_outputs_match(model, data, device='cpu', dtype=torch.float32, atol=1e-5):
    with torch.inference_mode():
        templates = [model.encode(*_model_input(data, f'st50/template{i}', device, dtype))
                     for i in range(2)]
        for j in range(2):
            output = model.search(templates, *_model_input(data, f'st50/search{j}', device,
                                                           dtype))
            np.testing.assert_allclose(output.boxes.float().cpu().numpy(),
                                       data[f'st50/search{j}/pred_boxes'][0], atol=atol)
            np.testing.assert_allclose(output.logits.float().cpu().numpy(),
                                       data[f'st50/search{j}/pred_logits'].ravel(), atol=atol)


@pytest.mark.parametrize('merge', [False, True], ids=['folded', 'folded+merged'])
def test_rewritten_model_matches_reference(data, merge):
    model = fold_batchnorm(fixture_model('st50', int(data['salt'])))
    norms = (FrozenBatchNorm2d, nn.BatchNorm2d)
    assert not any(isinstance(m, norms) for m in model.modules())
    if merge:
        merge_corner_towers(model.box_head)
        convolutions = [m for m in model.box_head.modules() if isinstance(m, nn.Conv2d)]
        assert [c.groups for c in convolutions] == [1, 2, 2, 2, 2]
        assert convolutions[-1].out_channels == 2
    _assert_outputs_match(model, data)


def test_merging_needs_folded_batchnorm():
    with pytest.raises(ValueError, match='fold'):
        merge_corner_towers(fixture_model('st50', salt=1).box_head)


def test_prepared_model_on_cpu_matches_reference(data):
    """What the tracker runs on the CPU: folded, merged, channels-last."""
    model = prepare_for_inference(fixture_model('st50', int(data['salt'])), torch.device('cpu'))
    _assert_outputs_match(model, data)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('half', [False, True], ids=['float32', 'float16'])
def test_prepared_model_on_cuda_matches_reference(data, half):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = prepare_for_inference(fixture_model('st50', int(data['salt'])),
                                  torch.device('cuda'), half)
    dtype = torch.float16 if half else torch.float32
    _assert_outputs_match(model, data, 'cuda', dtype, HALF_TOLERANCE[dtype] if half else 1e-4)
