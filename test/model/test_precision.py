"""Reduced precision stays close to the float32 reference (bfloat16 on CPU, float16 on CUDA)."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.parity import HALF_TOLERANCE, check_model


@pytest.fixture(scope='module')
def data(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        return {k: archive[k] for k in archive.files if k.startswith('st50') or k == 'salt'}


def _outputs(checks):
    return [c for c in checks if c.item.endswith(('pred_boxes', 'pred_logits'))]


def test_bfloat16_cpu_close_to_reference(data):
    checks = check_model(data, 'st50', 'cpu', torch.bfloat16)
    outputs = _outputs(checks)
    assert len(outputs) == 4 and all(c.enforced and c.passed for c in outputs)
    assert all(c.tolerance == HALF_TOLERANCE[torch.bfloat16] for c in outputs)
    assert max(c.max_abs_error for c in outputs) > 0   # it really ran in bfloat16
    assert all(c.passed for c in checks)                # features are reported, not enforced


def test_parity_command_in_bfloat16(parity_fixture_path, capsys):
    assert main(['parity', str(parity_fixture_path), '--variants', 's50',
                 '--dtype', 'bfloat16']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any('tracker/' in line for line in lines)
    verdicts = {line.split()[1]: line.split()[-1] for line in lines if line.startswith('s50 ')}
    assert verdicts['search0/pred_boxes'] == 'ok'         # held to the bfloat16 tolerance
    assert verdicts['search0/hs'] == 'info'               # reported only


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_float16_cuda_close_to_reference(data):
    outputs = _outputs(check_model(data, 'st50', 'cuda', torch.float16))
    assert len(outputs) == 4 and all(c.passed for c in outputs)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_float32_cuda_matches_reference(data):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    assert all(c.passed for c in check_model(data, 'st50', 'cuda', torch.float32))
