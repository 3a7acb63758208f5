"""Training the tiny configuration on synthetic scenes: learning, checkpoints, resume, stages."""
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from stt_tracker_ros.cli import main
from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.model.checkpoint import CheckpointError, load_stark
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.result import TrackResult
from stt_tracker_ros.tracking.tracker import StarkTracker
from stt_tracker_ros.training.optimizer import build_optimizer, set_train_mode, set_trainable
from stt_tracker_ros.training.step import compute_loss, forward_batch
from stt_tracker_ros.training.train import build_dataset, train

TINY_YAML = Path(__file__).resolve().parents[2] / 'config' / 'train' / 'tiny_cpu.yaml'


def log_rows(run: Path, stage: int) -> list[dict[str, str]]:
    with open(run / f'stage{stage}' / 'log.csv', newline='') as stream:
        return list(csv.DictReader(stream))


def test_loss_goes_down_on_a_fixed_batch(tiny_config):
    config = dataclasses.replace(tiny_config, lr=1e-3)
    network = config.model_config()
    dataset = build_dataset(config, network, config.datasets)
    batch = default_collate([dataset[i] for i in range(2)])
    torch.manual_seed(0)
    model = build_stark(network)
    set_trainable(model, 1)
    set_train_mode(model, 1)
    optimizer = build_optimizer(model, config)
    losses = []
    for _ in range(20):
        loss = compute_loss(forward_batch(model, batch), batch, 1).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:3])


def test_stage_1_checkpoints_resume_and_load_into_the_tracker(tiny_config, tmp_path):
    run = Path(tiny_config.output_dir)
    code = main(['train', str(TINY_YAML), '--override', f'output_dir={run}',
                 '--override', 'epochs=2', '--override', 'samples_per_epoch=8',
                 '--override', 'batch_size=4', '--override', 'val_samples=4',
                 '--override', 'datasets.0.sequences=4', '--override',
                 'val_datasets.0.sequences=2'])
    assert code == 0
    first = run / 'stage1' / 'ckpt_ep0002.pth.tar'
    content = torch.load(first, map_location='cpu', weights_only=True)
    assert content['epoch'] == 2
    assert content['model_config']['hidden_dim'] == 32
    assert content['train_config']['samples_per_epoch'] == 8
    assert set(content) >= {'net', 'optimizer'}
    rows = log_rows(run, 1)
    assert [r['epoch'] for r in rows] == ['1', '2']
    assert all(float(r['loss']) > 0 and r['val_iou'] != '' for r in rows)

    # Resume: the epoch counter and the optimizer's step count carry on; the learning rate and
    # its schedule are the resumed configuration's (here doubled, and dropped after 2 epochs).
    last = train(dataclasses.replace(tiny_config, epochs=3, lr=2 * tiny_config.lr,
                                     lr_drop_epoch=2))
    resumed = torch.load(last, map_location='cpu', weights_only=True)
    assert last.name == 'ckpt_ep0003.pth.tar' and resumed['epoch'] == 3
    steps = [s['step'].item() for s in resumed['optimizer']['state'].values()]
    assert steps and set(steps) == {6}                          # 3 epochs x 2 steps
    rows = log_rows(run, 1)
    assert [r['epoch'] for r in rows] == ['1', '2', '3']
    assert [float(r['lr']) for r in rows] == pytest.approx(
        [tiny_config.lr, tiny_config.lr, 2 * tiny_config.lr * tiny_config.lr_gamma])

    # The tracker loads the training checkpoint and follows a synthetic target.
    model = load_stark(last)
    assert model.config == tiny_config.model_config()
    tracker = StarkTracker(model)   # 64 px template and 128 px search crops, from the model
    scene = generate_scene(SceneConfig(width=192, height=144, num_frames=4), seed=5)
    tracker.initialize(scene.frames[0], scene.boxes[0])
    result = tracker.track(scene.frames[1])
    assert isinstance(result, TrackResult) and result.frame_index == 1
    assert all(np.isfinite(result.box_xywh))

    # Stage 2 starts from stage 1's best checkpoint and changes nothing but the score head.
    stage2 = train(dataclasses.replace(tiny_config, stage=2, epochs=1))
    before = torch.load(run / 'stage1' / 'best.pth.tar', map_location='cpu',
                        weights_only=True)['net']
    after = torch.load(stage2, map_location='cpu', weights_only=True)['net']
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {k for k in before if k.startswith('cls_head.')}
    assert log_rows(run, 2)[0]['loss_cls'] != ''


def test_stage_2_needs_stage_1_weights(tiny_config):
    with pytest.raises(CheckpointError, match='stage-1'):
        train(dataclasses.replace(tiny_config, stage=2))


def test_resumed_run_equals_an_uninterrupted_one(tiny_config, tmp_path):
    short = dataclasses.replace(tiny_config, epochs=1, val_datasets=(),
                                output_dir=str(tmp_path / 'a'))
    train(short)
    resumed = torch.load(train(dataclasses.replace(short, epochs=2)), weights_only=True)['net']
    straight = dataclasses.replace(short, epochs=2, output_dir=str(tmp_path / 'b'))
    uninterrupted = torch.load(train(straight), weights_only=True)['net']
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)


def test_time_limit_stops_within_an_epoch_and_saves_it(tiny_config):
    # A limit already over when training starts: epoch 1 runs one of its 4 steps, is saved and
    # validated, and epoch 2 never starts.
    config = dataclasses.replace(tiny_config, samples_per_epoch=16, time_limit_minutes=1e-9)
    last = train(config)
    assert last.name == 'ckpt_ep0001.pth.tar'
    content = torch.load(last, map_location='cpu', weights_only=True)
    steps = [s['step'].item() for s in content['optimizer']['state'].values()]
    assert steps and set(steps) == {1}
    rows = log_rows(Path(config.output_dir), 1)
    assert [(r['epoch'], r['step']) for r in rows] == [('1', '1')]
    assert rows[0]['val_iou'] != ''
