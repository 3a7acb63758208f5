"""STARK-Lightning equals the official code (fixture), loads official training-time checkpoints
strictly and converts them to safetensors in training-time or fused form."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.config import ModelConfig, model_config, override
from stt_tracker_ros.model.checkpoint import (
    CheckpointError, infer_variant, load_stark, read_checkpoint, save_safetensors)
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.model.stark_lightning import StarkLightning
from stt_tracker_ros.parity import _model_input, fixture_model, run_parity


@pytest.fixture(scope='module')
def official(lightning_data):
    """The fixture's network in the official training-time form (unfused)."""
    keys = [str(k) for k in lightning_data['lightning/keys']]
    return fixture_model('lightning', int(lightning_data['salt']), keys, fused=False)


@pytest.fixture(scope='module')
def official_boxes(official, lightning_data) -> np.ndarray:
    return _boxes(official, lightning_data)


@torch.inference_mode()
def _boxes(model, data) -> np.ndarray:
    """The model's boxes for the fixture's two search crops, [2, 4]."""
    template = model.encode(*_model_input(data, 'lightning/template'))
    return np.concatenate([model.search([template], *_model_input(data, f'lightning/search{j}'))
                           .boxes.numpy() for j in range(2)])


def test_every_output_matches_the_official_code(lightning_fixture_path):
    checks = {c.item: c for c in run_parity(lightning_fixture_path)}
    assert {c.variant for c in checks.values()} == {'lightning'}
    assert {'template/feat', 'template/pos', 'search0/pred_boxes', 'search1/pred_boxes',
            'search1/pos', 'tracker/boxes_px'} <= set(checks)
    assert not [(c.item, c.max_abs_error) for c in checks.values() if not c.passed]


def test_training_time_and_fused_forms_agree(official, official_boxes, lightning_data):
    fused = fixture_model('lightning', int(lightning_data['salt']))
    assert any('.rbr_dense.' in k for k in official.state_dict())
    assert not any('.rbr_dense.' in k for k in fused.state_dict())
    assert sum(p.numel() for p in fused.parameters()) == 2_151_202   # about 8.2 MiB in float32
    expected = np.concatenate([lightning_data[f'lightning/search{j}/pred_boxes']
                               for j in range(2)])
    np.testing.assert_allclose(official_boxes, expected, atol=1e-4)
    np.testing.assert_allclose(_boxes(fused, lightning_data), official_boxes, atol=1e-5)


def test_official_checkpoint_loads_strictly_and_converts_both_forms(official, official_boxes,
                                                                    lightning_data, tmp_path):
    source = tmp_path / 'STARKLightningXtrt_ep0500.pth.tar'
    torch.save({'net': official.state_dict(), 'epoch': 500, 'net_type': 'STARKLightningXtrt'},
               source)
    assert infer_variant(official.state_dict()) == 'lightning'
    loaded = load_stark(source)
    assert loaded.config.name == 'lightning'
    assert list(loaded.state_dict()) == list(official.state_dict())   # training-time keys
    with pytest.raises(CheckpointError, match='does not fit STARK-ST50'):
        load_stark(source, 'st50')

    plain, fused = tmp_path / 'plain.safetensors', tmp_path / 'fused.safetensors'
    assert main(['convert', str(source), str(plain)]) == 0
    assert main(['convert', str(source), str(fused), '--fuse', '--variant', 'lightning']) == 0
    for path in (plain, fused):
        state, metadata = read_checkpoint(path)
        assert metadata['variant'] == 'lightning'
        assert any('.rbr_reparam.' in k for k in state) == (path == fused)
        np.testing.assert_allclose(_boxes(load_stark(path), lightning_data), official_boxes,
                                   atol=1e-5)
    assert fused.stat().st_size < 0.95 * plain.stat().st_size


def test_fuse_is_refused_for_a_model_without_repvgg_blocks(tmp_path, capsys):
    source = tmp_path / 'lite.safetensors'
    tiny = ModelConfig(name='tiny', backbone_layers=(1, 1, 1), backbone_width=8, hidden_dim=32,
                       num_heads=2, encoder_layers=1, decoder_layers=1, ffn_dim=32,
                       head_channels=16)
    save_safetensors(build_stark(tiny), source)
    assert main(['convert', str(source), str(tmp_path / 'out.safetensors'), '--fuse']) == 2
    assert 'STARK-Lightning only' in capsys.readouterr().err


def test_parity_command_fails_on_a_disagreeing_reference(lightning_data, tmp_path, capsys):
    broken = dict(lightning_data)
    broken['lightning/search0/pred_boxes'] = lightning_data['lightning/search0/pred_boxes'] + 1e-3
    broken['tracker/boxes'] = lightning_data['tracker/boxes'] + np.array([0.0, 0.2, 0.0, 0.0])
    path = tmp_path / 'broken.npz'
    np.savez(path, **broken)
    assert main(['parity', str(path)]) == 1
    failed = [line.split()[1] for line in capsys.readouterr().out.splitlines() if 'FAIL' in line]
    assert failed == ['search0/pred_boxes', 'tracker/boxes_px']


@pytest.mark.parametrize('content', ['text', 'npy', 'foreign npz', 'truncated'])
def test_parity_command_on_an_unrecognised_file_is_one_line(content, lightning_fixture_path,
                                                            tmp_path, capsys):
    path = tmp_path / 'fixture.npz'
    if content == 'text':
        path.write_text('not a fixture\n')
    elif content == 'npy':
        with open(path, 'wb') as stream:
            np.save(stream, np.zeros(3))
    elif content == 'foreign npz':
        np.savez(path, weights=np.zeros(3))
    else:
        path.write_bytes(lightning_fixture_path.read_bytes()[:5000])
    assert main(['parity', str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err.startswith(f'error: {path}: ') and captured.err.count('\n') == 1


def test_lightning_configs_are_checked():
    assert isinstance(build_stark(model_config('lightning')), StarkLightning)
    with pytest.raises(ValueError, match='repvgg'):
        ModelConfig(architecture='lightning')          # the ResNet backbone of the defaults
    with pytest.raises(ValueError, match='architecture'):
        ModelConfig(architecture='siamese')
    with pytest.raises(ValueError, match='differ in size'):
        StarkLightning(override(model_config('lightning'), {'template_size': 320}))
    model = build_stark(model_config('lightning'))
    with pytest.raises(ValueError, match='neither the template size'):
        model.encode(torch.zeros(1, 3, 256, 256), torch.zeros(1, 256, 256, dtype=torch.bool))
