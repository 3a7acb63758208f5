"""Which parameters train in each stage, at which learning rate, and the step schedule.

Stage 1 trains everything except the score head; in the backbone only layer2 and layer3 train
(conv1, bn1 and layer1 stay as initialised; all of it with `train_backbone_norm`), at lr x
`backbone_lr_factor`. Stage 2 trains only the score head (`cls_head`), and the transformer too
with `stage2_transformer`. The backbone's batch norms are frozen in every stage (they hold
buffers only); with `feature_bank` the whole backbone is.
"""
import torch
from torch import nn

from stt_tracker_ros.training.backbone_norm import thaw_backbone_norms
from stt_tracker_ros.training.train_config import TrainConfig

_TRAINED_BACKBONE_LAYERS = ('layer2', 'layer3')


def is_trainable(name: str, stage: int, whole_backbone: bool = False) -> bool:
    """Whether parameter `name` (a Stark state-dict key) trains in `stage`.

    `whole_backbone` (training from scratch) lets conv1 and layer1 train too.
    """
    if stage == 2:
        return name.startswith('cls_head.')
    if name.startswith('cls_head.'):
        return False
    if name.startswith('backbone.') and not whole_backbone:
        return any(f'.{layer}.' in name for layer in _TRAINED_BACKBONE_LAYERS)
    return True


def set_trainable(model: nn.Module, stage: int, whole_backbone: bool = False) -> None:
    """Set `requires_grad` of every parameter for `stage`."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(is_trainable(name, stage, whole_backbone))


def prepare_for_stage(model: nn.Module, config: TrainConfig) -> bool:
    """Thaw the backbone's BatchNorm where the configuration trains it (stage 1 with
    `train_backbone_norm`) and set which parameters train; returns whether it thawed them."""
    thawed = config.stage == 1 and config.train_backbone_norm
    if thawed:
        thaw_backbone_norms(model)
    set_trainable(model, config.stage, whole_backbone=thawed)
    if config.stage == 2 and config.stage2_transformer:
        model.transformer.requires_grad_(True)
    if config.feature_bank:   # the body's features come from the bank: it cannot train
        model.backbone.requires_grad_(False)
    return thawed


def set_train_mode(model: nn.Module, stage: int) -> None:
    """Training mode (dropout on). In stage 2 the box head stays in eval mode.

    The official stage 2 does not run the box head, so its batch-norm statistics must not move;
    our forward computes it anyway, so eval mode keeps its running statistics unchanged.
    """
    model.train()
    if stage == 2:
        model.box_head.eval()


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters: backbone at lr x factor, the rest at lr."""
    backbone, rest = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (backbone if name.startswith('backbone.') else rest).append(parameter)
    groups = [{'params': rest, 'lr': config.lr}]
    if backbone:
        groups.append({'params': backbone, 'lr': config.lr * config.backbone_lr_factor})
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, done_epochs: int = 0
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """Multiply every learning rate by `lr_gamma` once `lr_drop_epoch` epochs have run.

    With `done_epochs` (a resumed run) the rates start where the schedule puts them after that
    many epochs, counted from each group's `initial_lr` (its `lr` where that is not set).
    """
    def factor(epoch: int) -> float:
        return config.lr_gamma ** (epoch // config.lr_drop_epoch)
    for group in optimizer.param_groups:
        group.setdefault('initial_lr', group['lr'])
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=done_epochs - 1)
