"""Checkpoint loading: official layout, plain state dict, safetensors, and every bad-file case.

What a pickle may refer to (the official trainer's objects, refused globals) is in
test_checkpoint_pickles.py.
"""
import re

import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.model.checkpoint import (
    CheckpointError, load_stark, read_checkpoint, save_safetensors)
from stt_tracker_ros.parity import fixture_model


@pytest.fixture(scope='module')
def st50():
    return fixture_model('st50', salt=5)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_plain_state_dict_and_safetensors_round_trip(st50, tmp_path):
    plain = tmp_path / 'plain.pth'
    torch.save(st50.state_dict(), plain)
    assert _same_weights(load_stark(plain, 'st50'), st50)
    converted = tmp_path / 'st50.safetensors'
    assert main(['convert', str(plain), str(converted)]) == 0
    _, metadata = read_checkpoint(converted)
    assert metadata['variant'] == 'st50'
    assert _same_weights(load_stark(converted), st50)  # no variant flag needed


def test_half_safetensors_are_half_the_size_and_load_as_float32(st50, tmp_path):
    full, half = tmp_path / 'full.safetensors', tmp_path / 'half.safetensors'
    save_safetensors(st50, full)
    assert main(['convert', str(full), str(half), '--half']) == 0
    assert half.stat().st_size < 0.51 * full.stat().st_size
    state, _ = read_checkpoint(half)
    assert state['transformer.encoder.layers.0.linear1.weight'].dtype == torch.float16
    loaded = load_stark(half)
    for key, value in loaded.state_dict().items():
        reference = st50.state_dict()[key]
        assert value.dtype == reference.dtype
        if value.is_floating_point():
            torch.testing.assert_close(value, reference, rtol=1e-3, atol=1e-4)
        else:
            assert torch.equal(value, reference)


def test_convert_records_the_settings_of_a_model_yaml(st50, tmp_path):
    plain, converted = tmp_path / 'plain.pth', tmp_path / 'st50.safetensors'
    torch.save(st50.state_dict(), plain)
    model_yaml = tmp_path / 'st50_closer.yaml'
    model_yaml.write_text('name: st50_closer\nsearch_factor: 4.5\n')
    assert main(['convert', str(plain), str(converted), '--variant', str(model_yaml)]) == 0
    loaded = load_stark(converted)
    assert (loaded.config.name, loaded.config.search_factor) == ('st50_closer', 4.5)
    assert _same_weights(loaded, st50)
    model_yaml.write_text('hidden_dim: 64\n')   # weights that do not fit it are refused
    assert main(['convert', str(plain), str(converted), '--variant', str(model_yaml)]) == 2


def test_variant_inferred_from_keys(tmp_path):
    s50 = fixture_model('s50', salt=1)
    path = tmp_path / 'STARKS_ep0500.pth.tar'
    torch.save({'net': s50.state_dict()}, path)
    assert load_stark(path).config.name == 's50'


def test_missing_file_is_named(tmp_path):
    path = tmp_path / 'nowhere.pth.tar'
    with pytest.raises(CheckpointError, match='nowhere.pth.tar.*not found'):
        load_stark(path)


@pytest.mark.parametrize('suffix', ['.pth.tar', '.safetensors'])
def test_truncated_file_is_named(st50, tmp_path, suffix):
    whole = tmp_path / f'whole{suffix}'
    if suffix == '.safetensors':
        save_safetensors(st50, whole)
    else:
        torch.save({'net': st50.state_dict()}, whole)
    cut = tmp_path / f'cut{suffix}'
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=f'cut{suffix}'):
        load_stark(cut)


def test_wrong_variant_lists_the_keys(st50, tmp_path):
    path = tmp_path / 'st50.safetensors'
    save_safetensors(st50, path)
    with pytest.raises(CheckpointError, match=r'STARK-S50: 6 unexpected keys: cls_head'):
        load_stark(path, 's50')
    with pytest.raises(CheckpointError, match=r'STARK-ST101: 255 missing keys: .*layer3\.6'):
        load_stark(path, 'st101')


def test_misshaped_keys_are_listed(st50, tmp_path):
    state = st50.state_dict()
    state['query_embed.weight'] = torch.zeros(2, 256)
    path = tmp_path / 'bad_shape.pth'
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r'mis-shaped keys: query_embed.weight \(2, 256\)'):
        load_stark(path)


@pytest.mark.parametrize('content', [b'not a checkpoint at all', b''])
def test_garbage_is_rejected(tmp_path, content):
    path = tmp_path / 'garbage.pth.tar'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='garbage.pth.tar'):
        load_stark(path)


@pytest.mark.parametrize('name, what', [
    ('x.safetensors', 'not a valid safetensors file .*: bad header: header too large'),
    ('x.pth.tar', 'not a torch checkpoint: neither a zip archive nor a stream of pickles'),
])
def test_random_bytes_give_one_short_line(tmp_path, name, what):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 40)   # no valid header in any format
    with pytest.raises(CheckpointError) as raised:
        load_stark(path)
    message = str(raised.value)
    assert message.startswith(f'{path}: ') and '\n' not in message
    assert re.search(what, message) and len(message) - len(str(path)) < 160


@pytest.mark.parametrize('keep', [0.5, 0.99])
def test_cut_legacy_file_gives_one_short_line(st50, tmp_path, keep):
    whole = tmp_path / 'whole.pth'
    torch.save({'net': st50.state_dict()}, whole, _use_new_zipfile_serialization=False)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * keep)])
    with pytest.raises(CheckpointError, match=r'cut.pth: unreadable torch file .*: unexpected '
                                              r'EOF, expected \d+ more bytes$'):
        load_stark(cut)


def test_checkpoint_without_state_dict_is_rejected(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match='holds no state dict'):
        load_stark(path)


def test_cli_reports_bad_file(tmp_path, capsys):
    assert main(['convert', str(tmp_path / 'missing.pth'), str(tmp_path / 'x.safetensors')]) == 2
    assert 'missing.pth' in capsys.readouterr().err
