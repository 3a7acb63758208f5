"""Our STARK equals the official implementation on the reference fixture."""
import shutil

import numpy as np
import pytest

from stt_tracker_ros.cli import main
from stt_tracker_ros.parity import TOLERANCE, named_weight, run_parity


@pytest.fixture(scope='module')
def checks(parity_fixture_path):
    return run_parity(parity_fixture_path)


@pytest.mark.parametrize('variant', ['s50', 'st50', 'st101'])
def test_model_outputs_match_reference(checks, variant):
    mine = {c.item: c for c in checks if c.variant == variant}
    boxes = [c for item, c in mine.items() if item.endswith('pred_boxes')]
    assert len(boxes) == 2
    if variant != 's50':
        assert len([i for i in mine if i.endswith('pred_logits')]) == 2
    failed = [(c.item, c.max_abs_error) for c in mine.values() if not c.passed]
    assert not failed


def test_tracker_matches_reference(checks):
    tracker = {c.item: c for c in checks if c.item.startswith('tracker/')}
    assert tracker['tracker/boxes_px'].max_abs_error <= TOLERANCE['tracker_boxes_px']
    assert tracker['tracker/conf'].max_abs_error <= TOLERANCE['tracker_conf']


def test_weight_rule_is_deterministic_and_name_dependent():
    a = named_weight('transformer.encoder.layers.0.linear1.weight', (8, 4), salt=3)
    b = named_weight('transformer.encoder.layers.0.linear1.weight', (8, 4), salt=3)
    c = named_weight('transformer.encoder.layers.0.linear2.weight', (8, 4), salt=3)
    assert (a == b).all() and not (a == c).all()
    assert (named_weight('box_head.conv1_tl.1.running_var', (16,), 0) >= 0.5).all()


def test_cli_fails_when_reference_disagrees(parity_fixture_path, tmp_path, capsys):
    """A fixture whose expected box is off by 1e-3 must make the command exit non-zero."""
    with np.load(parity_fixture_path) as archive:
        data = {k: archive[k] for k in archive.files if not k.startswith(('st101', 's50'))}
    data['st50/search0/pred_boxes'] = data['st50/search0/pred_boxes'] + 1e-3
    broken = tmp_path / 'broken.npz'
    np.savez(broken, **data)
    assert main(['parity', str(broken), '--variants', 'st50']) == 1
    assert 'FAIL' in capsys.readouterr().out


def test_cli_passes_on_a_copy(parity_fixture_path, tmp_path, capsys):
    copy = tmp_path / 'copy.npz'
    shutil.copy(parity_fixture_path, copy)
    assert main(['parity', str(copy), '--variants', 's50']) == 0
    assert 'parity: ' in capsys.readouterr().out
