"""GIoU, L1 and score losses against values worked out by hand."""
import math

import pytest
import torch

from stt_tracker_ros.training.losses import (box_cxcywh_to_xyxy, generalized_iou,
                                             localisation_loss, score_loss)


def test_giou_of_overlapping_squares():
    # Two 2x2 squares shifted by (1, 1): intersection 1, union 7, enclosing box 3x3 = 9.
    giou, iou = generalized_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]),
                                torch.tensor([[1.0, 1.0, 3.0, 3.0]]))
    assert iou.item() == pytest.approx(1 / 7)
    assert giou.item() == pytest.approx(1 / 7 - 2 / 9)


def test_giou_of_identical_and_far_apart_boxes():
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    others = torch.tensor([[0.0, 0.0, 1.0, 1.0], [3.0, 0.0, 4.0, 1.0]])
    giou, iou = generalized_iou(boxes, others)
    assert giou.tolist() == pytest.approx([1.0, 0.0 - (4.0 - 2.0) / 4.0])
    assert iou.tolist() == pytest.approx([1.0, 0.0])


def test_localisation_loss_weights_giou_2_and_l1_5():
    pred = torch.tensor([[0.2, 0.2, 0.2, 0.2]])     # cxcywh -> xyxy (0.1, 0.1, 0.3, 0.3)
    target = torch.tensor([[0.2, 0.2, 0.2, 0.2]])   # xywh   -> xyxy (0.2, 0.2, 0.4, 0.4)
    loss = localisation_loss(pred, target)
    giou = 1 / 7 - 0.02 / 0.09
    assert loss.giou.item() == pytest.approx(1 - giou)
    assert loss.l1.item() == pytest.approx(0.1)
    assert loss.total.item() == pytest.approx(2 * (1 - giou) + 5 * 0.1)
    assert loss.iou.item() == pytest.approx(1 / 7)


def test_ground_truth_is_clamped_to_the_crop():
    # The target sticks out of the crop: (0.8, 0.8)-(1.2, 1.2) counts as (0.8, 0.8)-(1, 1).
    target = torch.tensor([[0.8, 0.8, 0.4, 0.4]])
    assert localisation_loss(torch.tensor([[0.9, 0.9, 0.2, 0.2]]), target).total.item() \
        == pytest.approx(0.0, abs=1e-5)
    assert localisation_loss(torch.tensor([[1.0, 1.0, 0.4, 0.4]]), target).total.item() > 0.1


def test_inverted_prediction_is_empty_but_still_has_a_gradient():
    pred = torch.tensor([[0.5, 0.5, -0.2, 0.2]], requires_grad=True)   # x2 < x1
    loss = localisation_loss(pred, torch.tensor([[0.3, 0.3, 0.4, 0.4]]))
    loss.total.backward()
    assert loss.iou.item() == 0.0
    assert math.isfinite(loss.total.item())
    assert pred.grad.abs().sum() > 0


def test_nan_boxes_stop_training():
    with pytest.raises(FloatingPointError):
        localisation_loss(torch.full((1, 4), math.nan), torch.tensor([[0.1, 0.1, 0.2, 0.2]]))


def test_score_loss_is_binary_cross_entropy():
    loss = score_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx((math.log(2) + math.log(1 + math.e ** 2)) / 2)


def test_box_conversion():
    assert box_cxcywh_to_xyxy(torch.tensor([0.5, 0.4, 0.2, 0.4])).tolist() == pytest.approx(
        [0.4, 0.2, 0.6, 0.6])
