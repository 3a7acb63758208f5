"""The default model's score input: the box-to-template appearance match
(model/appearance_match.py)."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.config import ModelConfig, override
from stt_tracker_ros.model.appearance_match import appearance_match, box_cell_weights
from stt_tracker_ros.model.stark import StarkOutput, build_stark
from stt_tracker_ros.training.checkpoints import load_initial_weights
from stt_tracker_ros.training.step import box_iou, score_labels


def _box(x, y, w, h):
    """A normalised (cx, cy, w, h) box from its top-left corner and size."""
    return torch.tensor([[x + w / 2, y + h / 2, w, h]], dtype=torch.float64)


def test_cell_weights_follow_the_covered_area():
    one_cell = box_cell_weights(_box(0.5, 0.25, 0.25, 0.25), 4)[0].reshape(4, 4)
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[1, 2] = 1.0
    torch.testing.assert_close(one_cell, expected)
    whole = box_cell_weights(_box(0.0, 0.0, 1.0, 1.0), 4)[0]
    torch.testing.assert_close(whole, torch.full((16,), 1 / 16, dtype=torch.float64))
    # Three quarters of cell (0, 0) and a quarter of cell (0, 1) along x, half a row along y.
    split = box_cell_weights(_box(0.0625, 0.0, 0.25, 0.125), 4)[0].reshape(4, 4)
    assert split[0, 0].item() == pytest.approx(0.75) and split[0, 1].item() == pytest.approx(0.25)
    assert split.sum().item() == pytest.approx(1.0)
    assert box_cell_weights(_box(1.5, 1.5, 0.2, 0.2), 4).abs().sum().item() == 0.0


def _tokens(cells: int, channels: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(cells * cells, 1, channels, generator=generator)


def test_match_is_the_cosine_of_box_and_template_target_appearance():
    generator = torch.Generator().manual_seed(0)
    template = _tokens(8, 16, generator)
    search = _tokens(16, 16, generator)
    # The template's target: the middle half of its crop, cells 2-5 of 8.
    target = template.reshape(8, 8, 16)[2:6, 2:6].mean((0, 1))
    box = _box(0.25, 0.5, 0.125, 0.125)            # search cells (8-9, 4-5)
    grid = search.reshape(16, 16, 1, 16)
    grid[8:10, 4:6, 0] = target                      # the box shows the template's target
    match = appearance_match(search, template, 1, box.float())
    assert match.shape == (1, 16)
    assert (match.sum() / 16).item() == pytest.approx(1.0, abs=1e-5)
    grid[8:10, 4:6, 0] = -target                     # the opposite appearance
    assert (appearance_match(search, template, 1, box.float()).sum() / 16).item() == (
        pytest.approx(-1.0, abs=1e-5))
    grid[0:4, 10:16, 0] = 7.0                        # cells outside the box do not count
    assert (appearance_match(search, template, 1, box.float()).sum() / 16).item() == (
        pytest.approx(-1.0, abs=1e-5))


LITE = dict(backbone='efficientnet_lite0', hidden_dim=32, num_heads=2, encoder_layers=1,
            decoder_layers=1, ffn_dim=64, head_channels=16, template_size=64, search_size=128)


def _inputs(generator):
    template = (torch.randn(1, 3, 64, 64, generator=generator),
                torch.zeros(1, 64, 64, dtype=torch.bool))
    search = (torch.randn(1, 3, 128, 128, generator=generator),
              torch.zeros(1, 128, 128, dtype=torch.bool))
    return template, search


def test_the_match_score_head_sees_each_template():
    torch.manual_seed(0)
    model = build_stark(override(ModelConfig(), {**LITE, 'score_input': 'match'})).eval()
    assert model.cls_head.layers[0].in_features == 32 * 3    # decoder output + 2 templates
    template, search = _inputs(torch.Generator().manual_seed(1))
    other = (torch.randn(1, 3, 64, 64), template[1])
    with torch.no_grad():
        same = model([template, template], search)
        changed = model([template, other], search)
    # The dynamic template enters the score through the match as well as through the encoder.
    assert same.logits.shape == (1,) and not torch.equal(same.logits, changed.logits)


def test_unknown_score_input_is_refused():
    with pytest.raises(ValueError, match='score_input'):
        ModelConfig(score_input='boxes')


def test_stage_2_starts_a_wider_score_head_from_a_stage_1_file(tmp_path):
    torch.manual_seed(0)
    stage1 = build_stark(override(ModelConfig(), LITE))
    path = tmp_path / 'stage1.pth'
    torch.save({'net': stage1.state_dict()}, path)
    stage2 = build_stark(override(ModelConfig(), {**LITE, 'score_input': 'match'}))
    head = stage2.cls_head.layers[0].weight.detach().clone()
    load_initial_weights(stage2, path, allow_missing='cls_head.')
    torch.testing.assert_close(stage2.cls_head.layers[0].weight, head)   # its own start
    torch.testing.assert_close(stage2.box_head.state_dict(), stage1.box_head.state_dict())


def test_score_labels_can_ask_for_a_good_box():
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1], [0.5, 0.5, 0.2, 0.2]])
    output = StarkOutput(boxes, torch.zeros(3), torch.zeros(3, 4))
    batch = {'label': torch.tensor([1.0, 1.0, 0.0]),
             'search_box': torch.tensor([[0.4, 0.4, 0.2, 0.2]] * 3)}   # (x, y, w, h)
    iou = box_iou(output, batch)
    np.testing.assert_array_equal(score_labels(batch['label'], iou, 0.0), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(score_labels(batch['label'], iou, 0.5), [1.0, 0.0, 0.0])
