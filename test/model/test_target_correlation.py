"""The default model's corner-head prior: search-to-target correlation
(model/target_correlation.py) and the warm start of a corner head that gains those inputs."""
import pytest
import torch

from stt_tracker_ros.config import ModelConfig, override
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.model.target_correlation import (
    correlation_channels, target_correlation, target_span)
from stt_tracker_ros.training.checkpoints import load_initial_weights, widened

LITE = dict(backbone='efficientnet_lite0', hidden_dim=32, num_heads=2, encoder_layers=1,
            decoder_layers=1, ffn_dim=64, head_channels=16, template_size=64, search_size=128)


def test_target_cells_are_the_middle_half_of_the_template_grid():
    cells = torch.arange(64).reshape(8, 8)
    span = target_span(8)
    assert cells[span, span].flatten().tolist() == [
        r * 8 + c for r in range(2, 6) for c in range(2, 6)]
    small = torch.arange(16).reshape(4, 4)
    assert small[target_span(4), target_span(4)].flatten().tolist() == [5, 6, 9, 10]
    assert correlation_channels(128, 16, 2) == 32


def test_correlation_peaks_where_the_search_shows_that_part_of_the_target():
    generator = torch.Generator().manual_seed(0)
    template = torch.randn(64, 1, 16, generator=generator)      # 8 x 8 cells
    search = torch.randn(256, 1, 16, generator=generator)       # 16 x 16 cells
    top_left_part = template[2 * 8 + 2, 0]                      # the target's first cell
    search[5 * 16 + 9, 0] = 3.0 * top_left_part                 # seen at row 5, column 9
    correlation = target_correlation(search, torch.cat([template, -template]), 2)
    assert correlation.shape == (1, 32, 16, 16)
    first = correlation[0, 0]
    assert first[5, 9].item() == pytest.approx(1.0, abs=1e-5)   # cosine: scale-free
    assert first.flatten().argmax().item() == 5 * 16 + 9
    # The second template's channels follow the first's, in the same cell order.
    assert correlation[0, 16, 5, 9].item() == pytest.approx(-1.0, abs=1e-5)
    assert correlation.abs().max().item() <= 1.0 + 1e-5


def test_the_corner_head_sees_the_correlation_of_each_template():
    torch.manual_seed(0)
    model = build_stark(override(ModelConfig(), {**LITE, 'box_correlation': True})).eval()
    assert model.box_head.conv1_tl[0].in_channels == 32 + 2 * 4   # 4 target cells each
    generator = torch.Generator().manual_seed(1)
    channels = model.backbone[0].body.out_channels

    def tokens(side):   # body features of a crop, as a frozen body's bank holds them
        return model.tokens(torch.randn(1, channels, side, side, generator=generator),
                            torch.zeros(1, side * 16, side * 16, dtype=torch.bool))

    template, other, search = tokens(4), tokens(4), tokens(8)
    with torch.no_grad():
        # Zero the transformer's path into the head: only the correlation can move the box.
        model.box_head.conv1_tl[0].weight[:, :32] = 0
        model.box_head.conv1_br[0].weight[:, :32] = 0
        same = model.decode([template, template], search)
        changed = model.decode([template, other], search)
    assert not torch.allclose(same.boxes, changed.boxes)


def test_a_corner_head_given_the_correlation_starts_where_the_file_left_off(tmp_path):
    torch.manual_seed(0)
    plain = build_stark(override(ModelConfig(), LITE)).eval()
    path = tmp_path / 'stage1.pth'
    torch.save({'net': plain.state_dict()}, path)
    wider = build_stark(override(ModelConfig(), {**LITE, 'box_correlation': True})).eval()
    with pytest.raises(Exception, match='mis-shaped'):
        load_initial_weights(wider, path)            # without `widen`, a clear refusal
    load_initial_weights(wider, path, widen='box_head.conv1_')
    weight = wider.box_head.conv1_tl[0].weight
    assert torch.equal(weight[:, 32:], torch.zeros_like(weight[:, 32:]))
    generator = torch.Generator().manual_seed(1)
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    templates = [(torch.randn(1, 3, 64, 64, generator=generator), mask)] * 2
    search = (torch.randn(1, 3, 128, 128, generator=generator),
              torch.zeros(1, 128, 128, dtype=torch.bool))
    with torch.no_grad():
        torch.testing.assert_close(wider(templates, search).boxes,
                                   plain(templates, search).boxes)


def test_only_extra_input_channels_widen_a_weight():
    saved = torch.ones(4, 3, 3, 3)
    grown = widened(saved, torch.empty(4, 5, 3, 3))
    assert grown.shape == (4, 5, 3, 3) and grown[:, :3].eq(1).all() and grown[:, 3:].eq(0).all()
    assert widened(saved, torch.empty(5, 5, 3, 3)) is None       # more outputs: no
    assert widened(saved, torch.empty(4, 2, 3, 3)) is None       # fewer inputs: no
    assert widened(saved, torch.empty(4, 5, 1, 1)) is None       # another kernel: no
