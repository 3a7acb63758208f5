"""A narrower ResNet body (`backbone_width`) builds, runs, saves and loads with its config."""
import dataclasses

import torch

from stt_tracker_ros.config import model_config
from stt_tracker_ros.model.checkpoint import load_stark, save_safetensors
from stt_tracker_ros.model.stark import build_stark


def test_width_sets_every_backbone_stage_and_round_trips(tmp_path):
    config = dataclasses.replace(model_config('st50'), name='st_narrow', backbone_width=16,
                                 backbone_layers=(1, 1, 1), hidden_dim=32, num_heads=2,
                                 encoder_layers=1, decoder_layers=1, ffn_dim=64,
                                 head_channels=32)
    model = build_stark(config).eval()
    body = model.backbone[0].body
    assert body.conv1.out_channels == 16 and body.out_channels == 16 * 16
    assert model.bottleneck.in_channels == 256
    torch.manual_seed(0)
    templates = [model.encode(torch.randn(1, 3, 128, 128), torch.zeros(1, 128, 128, dtype=bool))
                 for _ in range(config.num_templates)]
    image, mask = torch.randn(1, 3, 320, 320), torch.zeros(1, 320, 320, dtype=bool)
    output = model.search(templates, image, mask)
    path = tmp_path / 'narrow.safetensors'
    save_safetensors(model, path)
    loaded = load_stark(path)
    assert loaded.config == config
    torch.testing.assert_close(loaded.search(templates, image, mask).boxes, output.boxes)
