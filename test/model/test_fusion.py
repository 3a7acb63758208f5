"""The inference rewrites (BatchNorm folding, merged corner towers) keep STARK's outputs."""
import numpy as np
import pytest
import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.model.fusion import fold_batchnorm, merge_corner_towers
from stt_tracker_ros.parity import _model_input, fixture_model


@pytest.mark.parametrize('merge', [False, True], ids=['folded', 'folded+merged'])
def test_rewritten_model_matches_reference(parity_fixture_path, merge):
    with np.load(parity_fixture_path) as archive:
        data = {k: archive[k] for k in archive.files if k.startswith('st50') or k == 'salt'}
    model = fold_batchnorm(fixture_model('st50', int(data['salt'])))
    norms = (FrozenBatchNorm2d, nn.BatchNorm2d)
    assert not any(isinstance(m, norms) for m in model.modules())
    if merge:
        merge_corner_towers(model.box_head)
        convolutions = [m for m in model.box_head.modules() if isinstance(m, nn.Conv2d)]
        assert [c.groups for c in convolutions] == [1, 2, 2, 2, 2]
        assert convolutions[-1].out_channels == 2
    with torch.inference_mode():
        templates = [model.encode(*_model_input(data, f'st50/template{i}')) for i in range(2)]
        for j in range(2):
            output = model.search(templates, *_model_input(data, f'st50/search{j}'))
            np.testing.assert_allclose(output.boxes.numpy(),
                                       data[f'st50/search{j}/pred_boxes'][0], atol=1e-5)
            np.testing.assert_allclose(output.logits.numpy(),
                                       data[f'st50/search{j}/pred_logits'].ravel(), atol=1e-5)


def test_merging_needs_folded_batchnorm():
    with pytest.raises(ValueError, match='fold'):
        merge_corner_towers(fixture_model('st50', salt=1).box_head)
