"""One batch through the network: the stage's loss with its statistics, and validation sums."""
from typing import NamedTuple

import torch
from torch import nn

from stt_tracker_ros.model.stark import StarkOutput
from stt_tracker_ros.training.losses import (box_cxcywh_to_xyxy, box_xywh_to_xyxy,
                                             generalized_iou, localisation_loss, score_loss)
from stt_tracker_ros.training.processing import network_image


class StepLoss(NamedTuple):
    """The loss to minimise and detached statistics (0-d tensors, not yet synchronised)."""

    loss: torch.Tensor
    stats: dict[str, torch.Tensor]


def batch_to_device(batch: dict[str, torch.Tensor], device: torch.device
                    ) -> dict[str, torch.Tensor]:
    """Move a collated batch to `device` (asynchronously from pinned memory)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def forward_batch(model: nn.Module, batch: dict[str, torch.Tensor]) -> StarkOutput:
    """Run the network on a collated batch.

    Args:
        model: Stark (or a DDP wrapper of it).
        batch: template_images [B, T, 3, t, t] (uint8), template_brightness [B, T],
            template_masks [B, T, t, t], search_image [B, 3, s, s] (uint8), search_brightness
            [B], search_mask [B, s, s] (see `PairProcessor`); or a feature bank's
            template_features, template_masks, search_features and search_mask (`BankPairs`).
    """
    if 'search_features' in batch:   # a feature bank's sample (BankPairs)
        feats, masks = batch['template_features'], batch['template_masks']
        templates = [(feats[:, i], masks[:, i]) for i in range(feats.shape[1])]
        return model(templates, (batch['search_features'], batch['search_mask']), features=True)
    images = network_image(batch['template_images'], batch['template_brightness'])
    masks = batch['template_masks']
    templates = [(images[:, i], masks[:, i]) for i in range(images.shape[1])]
    search = network_image(batch['search_image'], batch['search_brightness'])
    return model(templates, (search, batch['search_mask']))


def box_iou(output: StarkOutput, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[B] IoU of each predicted box with the target in its search crop (float64, detached)."""
    pred = box_cxcywh_to_xyxy(output.boxes.detach().double())
    target = box_xywh_to_xyxy(batch['search_box'].double()).clamp(0.0, 1.0)
    return generalized_iou(pred, target)[1]


def score_labels(labels: torch.Tensor, iou: torch.Tensor, label_iou: float) -> torch.Tensor:
    """[B] what the score head should say: the samples' `labels` (1: the search crop holds the
    template's target), and with `label_iou` > 0 only where the predicted box's `iou` (from
    `box_iou`) also reaches that value (a confidence in the box, not only in the target's
    presence)."""
    if label_iou > 0:
        labels = labels * (iou >= label_iou).to(labels.dtype)
    return labels


def compute_loss(output: StarkOutput, batch: dict[str, torch.Tensor], stage: int,
                 giou_weight: float = 2.0, l1_weight: float = 5.0,
                 boxes_in_stage2: bool = False, label_iou: float = 0.0) -> StepLoss:
    """Stage 1: weighted GIoU + L1 of the boxes; stage 2: BCE of the score logits against
    `score_labels`, plus the stage-1 loss of the positives' boxes with `boxes_in_stage2` (when
    the transformer trains).

    Stage-1 batches hold positives only (the sampler draws no negatives there).
    """
    if stage == 2:
        loss = score_loss(output.logits,
                          score_labels(batch['label'], box_iou(output, batch), label_iou))
        stats = {'loss_cls': loss.detach()}
        positive = batch['label'] > 0.5
        if boxes_in_stage2 and positive.any():
            terms = localisation_loss(output.boxes[positive], batch['search_box'][positive],
                                      giou_weight, l1_weight)
            loss = loss + terms.total
            stats.update(loss_giou=terms.giou.detach(), loss_l1=terms.l1.detach(), iou=terms.iou)
        return StepLoss(loss, {'loss': loss.detach(), **stats})
    terms = localisation_loss(output.boxes, batch['search_box'], giou_weight, l1_weight)
    stats = {'loss': terms.total.detach(), 'loss_giou': terms.giou.detach(),
             'loss_l1': terms.l1.detach(), 'iou': terms.iou}
    return StepLoss(terms.total, stats)


def validation_sums(output: StarkOutput, batch: dict[str, torch.Tensor], label_iou: float = 0.0
                    ) -> torch.Tensor:
    """[4] float64 sums over the batch: IoU of positives, positives, correct scores, samples.

    The IoU is the box IoU with the target in the search crop; a score is correct when the
    logit's sign matches `score_labels` (always counted correct for a network without score
    head).
    """
    labels = batch['label'].double()
    iou = box_iou(output, batch)
    if output.logits is None:
        correct = torch.ones_like(labels)
    else:
        wanted = score_labels(labels, iou, label_iou)
        correct = ((output.logits.double() > 0).double() == wanted).double()
    return torch.stack([(iou * labels).sum(), labels.sum(), correct.sum(),
                        torch.tensor(float(len(labels)), dtype=torch.float64,
                                     device=labels.device)])
