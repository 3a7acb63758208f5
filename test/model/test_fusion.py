"""Folding BatchNorm into the convolutions keeps STARK's outputs."""
import numpy as np
import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.model.fusion import fold_batchnorm
from stt_tracker_ros.parity import _model_input, fixture_model


def test_folded_model_matches_reference(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        data = {k: archive[k] for k in archive.files if k.startswith('st50') or k == 'salt'}
    model = fold_batchnorm(fixture_model('st50', int(data['salt'])))
    norms = (FrozenBatchNorm2d, nn.BatchNorm2d)
    assert not any(isinstance(m, norms) for m in model.modules())
    with torch.inference_mode():
        templates = [model.encode(*_model_input(data, f'st50/template{i}')) for i in range(2)]
        for j in range(2):
            output = model.search(templates, *_model_input(data, f'st50/search{j}'))
            np.testing.assert_allclose(output.boxes.numpy(),
                                       data[f'st50/search{j}/pred_boxes'][0], atol=1e-5)
            np.testing.assert_allclose(output.logits.numpy(),
                                       data[f'st50/search{j}/pred_logits'].ravel(), atol=1e-5)
