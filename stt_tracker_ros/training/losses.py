"""STARK's training losses: 2 * GIoU + 5 * L1 on normalised xyxy boxes, BCE on the score head."""
from typing import NamedTuple

import torch
import torch.nn.functional as F

_EPS = 1e-7  # keeps IoU and GIoU finite for empty boxes


class BoxLoss(NamedTuple):
    """Localisation loss of a batch and its parts (scalars, graph attached to `total`)."""

    total: torch.Tensor   # giou_weight * giou + l1_weight * l1
    giou: torch.Tensor    # mean of 1 - GIoU
    l1: torch.Tensor      # mean absolute error over all four xyxy coordinates
    iou: torch.Tensor     # mean IoU (detached; for logging)


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """[..., 4] (cx, cy, w, h) -> [..., 4] (x1, y1, x2, y2)."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def box_xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """[..., 4] (x, y, w, h) -> [..., 4] (x1, y1, x2, y2)."""
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x, y, x + w, y + h), dim=-1)


def generalized_iou(boxes1: torch.Tensor, boxes2: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise-aligned GIoU and IoU of [N, 4] xyxy boxes.

    A box with x2 < x1 or y2 < y1 (an untrained corner head can predict one) counts as empty;
    its GIoU still has a gradient through the enclosing box. The official code instead drops
    the GIoU term of any batch holding such a box.

    Returns:
        (giou [N], iou [N]), each in [-1, 1] and [0, 1].
    """
    area1 = (boxes1[:, 2:] - boxes1[:, :2]).clamp(min=0).prod(dim=1)
    area2 = (boxes2[:, 2:] - boxes2[:, :2]).clamp(min=0).prod(dim=1)
    low = torch.maximum(boxes1[:, :2], boxes2[:, :2])
    high = torch.minimum(boxes1[:, 2:], boxes2[:, 2:])
    inter = (high - low).clamp(min=0).prod(dim=1)
    union = area1 + area2 - inter
    iou = inter / union.clamp(min=_EPS)
    outer_low = torch.minimum(torch.minimum(boxes1[:, :2], boxes1[:, 2:]), boxes2[:, :2])
    outer_high = torch.maximum(torch.maximum(boxes1[:, :2], boxes1[:, 2:]), boxes2[:, 2:])
    enclosing = (outer_high - outer_low).prod(dim=1)
    return iou - (enclosing - union) / enclosing.clamp(min=_EPS), iou


def localisation_loss(pred_cxcywh: torch.Tensor, target_xywh: torch.Tensor,
                      giou_weight: float = 2.0, l1_weight: float = 5.0) -> BoxLoss:
    """Stage-1 loss of predicted boxes against ground truth, both normalised to the search crop.

    Args:
        pred_cxcywh: [B, 4] network boxes (cx, cy, w, h).
        target_xywh: [B, 4] ground truth (x, y, w, h); converted to xyxy and clamped to [0, 1]
            as the official actor does (a target partly outside the crop).
        giou_weight, l1_weight: official values 2 and 5.

    Raises:
        FloatingPointError: the network produced NaN boxes (training has diverged).
    """
    pred = box_cxcywh_to_xyxy(pred_cxcywh.float())
    if torch.isnan(pred).any():
        raise FloatingPointError('the network predicted NaN boxes; training diverged')
    target = box_xywh_to_xyxy(target_xywh.float()).clamp(0.0, 1.0)
    giou, iou = generalized_iou(pred, target)
    giou_loss = (1.0 - giou).mean()
    l1_loss = F.l1_loss(pred, target)
    return BoxLoss(giou_weight * giou_loss + l1_weight * l1_loss, giou_loss, l1_loss,
                   iou.detach().mean())


def score_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Stage-2 loss: binary cross-entropy of [B] target-present logits against 1/0 labels."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
