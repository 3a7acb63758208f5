"""Training YAML: the shipped files load, overrides apply, unknown keys and bad values raise."""
from pathlib import Path

import pytest

from stt_tracker_ros.config import network_config
from stt_tracker_ros.training.train_config import TrainConfig, load_train_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'config' / 'train'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / 'train.yaml'
    path.write_text(text)
    return path


def test_shipped_configs_load_with_the_official_numbers():
    stage1 = load_train_config(CONFIG_DIR / 'stark_st50_stage1.yaml')
    stage2 = load_train_config(CONFIG_DIR / 'stark_st50_stage2.yaml')
    assert (stage1.stage, stage1.epochs, stage1.lr_drop_epoch, stage1.lr) == (1, 500, 400, 1e-4)
    assert (stage2.stage, stage2.epochs, stage2.lr_drop_epoch) == (2, 50, 40)
    assert stage1.backbone_lr_factor == 0.1 and stage1.grad_clip == 0.1
    assert (stage1.giou_weight, stage1.l1_weight) == (2.0, 5.0)
    assert stage2.negative_prob == 0.5
    assert [d.format for d in stage1.datasets] == ['lasot', 'got10k', 'coco', 'trackingnet']
    tiny = load_train_config(CONFIG_DIR / 'tiny_cpu.yaml').model_config()
    assert (tiny.hidden_dim, tiny.backbone_layers, tiny.search_size) == (32, (1, 1, 1), 128)


def test_model_may_be_the_path_of_a_model_file(tmp_path):
    (tmp_path / 'net.yaml').write_text('name: small\nhidden_dim: 96\nnum_heads: 4\n')
    path = write(tmp_path, 'model: net.yaml\n')   # relative to the training file
    network = load_train_config(path, ['model.num_heads=2']).model_config()
    assert (network.name, network.hidden_dim, network.num_heads) == ('small', 96, 2)
    default = load_train_config(CONFIG_DIR / 'default_stage1.yaml').model_config()
    assert default == network_config(str(CONFIG_DIR.parent / 'models' / 'stark_st_lite0.yaml'))
    compact = CONFIG_DIR.parent / 'models' / 'stark_st_compact.yaml'   # another one, by override
    other = load_train_config(CONFIG_DIR / 'default_stage1.yaml', [f'model={compact}'])
    assert other.model_config() == network_config(str(compact))


def test_overrides_reach_nested_entries_and_are_typed(tmp_path):
    path = write(tmp_path, 'datasets:\n  - {format: synthetic, sequences: 3}\nlr: 1e-4\n')
    config = load_train_config(path, ['model.hidden_dim=64', 'datasets.0.sequences=5',
                                      'epochs=7', 'weight_decay=1e-3'])
    assert config.model_config().hidden_dim == 64
    assert config.datasets[0].sequences == 5
    assert config.epochs == 7
    assert isinstance(config.lr, float) and config.lr == 1e-4   # YAML reads 1e-4 as text
    assert config.weight_decay == 1e-3


@pytest.mark.parametrize('text, overrides, message', [
    ('learning_rate: 0.1\n', [], 'learning_rate'),
    ('datasets:\n  - {format: synthetic, sequence: 3}\n', [], 'sequence'),
    ('model: {hidden_dims: 64}\n', [], 'hidden_dims'),
    ('', ['batchsize=4'], 'batchsize'),
    ('epochs: 1.5\n', [], 'epochs'),
    ('stage: 3\n', [], 'stage'),
    ('datasets:\n  - {format: imagenet, path: x}\n', [], 'imagenet'),
    ('datasets:\n  - {path: x}\n', [], 'format'),
    ('precision: fp8\n', [], 'precision'),
    ('', ['epochs'], 'key=value'),
])
def test_bad_settings_raise_value_error_naming_them(tmp_path, text, overrides, message):
    with pytest.raises(ValueError, match=message):
        load_train_config(write(tmp_path, text), overrides)


def test_stage_2_needs_a_score_head():
    with pytest.raises(ValueError, match='score head'):
        TrainConfig(stage=2, variant='s50')


def test_plain_dict_round_trip():
    config = load_train_config(CONFIG_DIR / 'tiny_cpu.yaml')
    values = config.to_dict()
    assert values['datasets'][0]['format'] == 'synthetic'
    assert values['model']['hidden_dim'] == 32
