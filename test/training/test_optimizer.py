"""Which parameters train in each stage and at which learning rate."""
import dataclasses

import pytest
import torch

from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.training.optimizer import (build_optimizer, build_scheduler, set_train_mode,
                                                set_trainable)


def trainable_names(model, stage):
    set_trainable(model, stage)
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_stage_1_freezes_the_stem_layer1_and_the_score_head(tiny_config):
    model = build_stark(tiny_config.model_config())
    names = trainable_names(model, 1)
    assert not any(n.startswith(('backbone.0.body.conv1', 'backbone.0.body.layer1', 'cls_head'))
                   for n in names)
    for prefix in ('backbone.0.body.layer2', 'backbone.0.body.layer3', 'transformer',
                   'box_head', 'bottleneck', 'query_embed'):
        assert any(n.startswith(prefix) for n in names), prefix
    optimizer = build_optimizer(model, tiny_config)
    by_lr = {g['lr']: {id(p) for p in g['params']} for g in optimizer.param_groups}
    parameters = dict(model.named_parameters())
    assert set(by_lr) == {tiny_config.lr, tiny_config.lr * 0.1}
    assert by_lr[tiny_config.lr * 0.1] == {id(parameters[n]) for n in names
                                           if n.startswith('backbone.')}
    assert optimizer.param_groups[0]['weight_decay'] == tiny_config.weight_decay
    assert isinstance(optimizer, torch.optim.AdamW)


def test_stage_2_trains_only_the_score_head_and_keeps_box_head_statistics(tiny_config):
    model = build_stark(tiny_config.model_config())
    names = trainable_names(model, 2)
    assert names == {n for n, _ in model.named_parameters() if n.startswith('cls_head.')}
    set_train_mode(model, 2)
    assert model.transformer.training and not model.box_head.training


def test_learning_rate_drops_at_the_configured_epoch(tiny_config):
    model = build_stark(tiny_config.model_config())
    set_trainable(model, 1)
    optimizer = build_optimizer(model, tiny_config)
    scheduler = build_scheduler(optimizer, tiny_config)
    rates = []
    for _ in range(tiny_config.lr_drop_epoch + 1):
        rates.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    assert rates[tiny_config.lr_drop_epoch - 1] == tiny_config.lr
    assert rates[tiny_config.lr_drop_epoch] == tiny_config.lr * tiny_config.lr_gamma


def test_scheduler_of_a_resumed_run_starts_at_the_rates_of_its_epoch(tiny_config):
    config = dataclasses.replace(tiny_config, backbone_lr_factor=0.1)
    model = build_stark(config.model_config())
    set_trainable(model, 1)
    optimizer = build_optimizer(model, config)
    build_scheduler(optimizer, config, done_epochs=config.lr_drop_epoch - 1)
    assert [g['lr'] for g in optimizer.param_groups] == pytest.approx([config.lr, 0.1 * config.lr])
    build_scheduler(optimizer, config, done_epochs=config.lr_drop_epoch)
    dropped = config.lr * config.lr_gamma
    assert [g['lr'] for g in optimizer.param_groups] == pytest.approx([dropped, 0.1 * dropped])
