"""From-scratch stage 1: trainable backbone norms, checkpoints still in the official layout."""
import dataclasses
from pathlib import Path

import torch

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.model.checkpoint import load_stark
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.training.backbone_norm import thaw_backbone_norms
from stt_tracker_ros.training.optimizer import set_trainable
from stt_tracker_ros.training.train import train


def test_thawed_backbone_keeps_function_and_trains_everything(tiny_config):
    model = build_stark(tiny_config.model_config()).eval()
    image, mask = torch.randn(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool)
    before = model.encode(image, mask).feat
    frozen = sum(isinstance(m, FrozenBatchNorm2d) for m in model.backbone.modules())
    assert thaw_backbone_norms(model) == frozen > 0
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.backbone.modules())
    model.eval()
    torch.testing.assert_close(model.encode(image, mask).feat, before)  # eval: same function
    set_trainable(model, 1, whole_backbone=True)
    assert model.backbone[0].body.conv1.weight.requires_grad
    assert model.backbone[0].body.bn1.weight.requires_grad
    assert not model.cls_head.layers[0].weight.requires_grad


def test_from_scratch_run_writes_the_frozen_layout_and_resumes(tiny_config):
    config = dataclasses.replace(tiny_config, train_backbone_norm=True)
    train(config)
    checkpoint = Path(config.output_dir) / 'stage1' / 'ckpt_ep0002.pth.tar'
    net = torch.load(checkpoint, map_location='cpu', weights_only=True)['net']
    assert not [k for k in net if k.startswith('backbone.') and 'num_batches_tracked' in k]
    # Batch statistics moved away from the identity start and were saved under frozen names.
    assert not torch.equal(net['backbone.0.body.bn1.running_mean'], torch.zeros(64))
    loaded = load_stark(checkpoint)   # strict, official layout
    assert isinstance(loaded.backbone[0].body.bn1, FrozenBatchNorm2d)
    torch.testing.assert_close(loaded.backbone[0].body.bn1.running_var,
                               net['backbone.0.body.bn1.running_var'])
    train(dataclasses.replace(config, epochs=3))   # resume into the thawed model
    assert (Path(config.output_dir) / 'stage1' / 'ckpt_ep0003.pth.tar').is_file()
