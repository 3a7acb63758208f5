"""Backends state the device and dtype of their inputs, and the tracker makes its crops so.

ONNX Runtime's backend is tested with its export in test/export/test_onnx.py, the CUDA graph's
in test_cuda_graph.py (GPU only).
"""
import numpy as np
import pytest
import torch

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.parity import fixture_model
from stt_tracker_ros.tracking.factory import prepare_for_inference
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker

CPU = torch.device('cpu')
SMALL = ModelConfig(name='small', backbone_layers=(1, 1, 1), backbone_width=8, hidden_dim=32,
                    num_heads=2, encoder_layers=1, decoder_layers=1, ffn_dim=64,
                    head_channels=32)


class Recorder:
    """A backend that is no nn.Module (it holds no parameters to look at): it states what the
    backend it runs states, and records the device and dtype of every image it is handed."""

    def __init__(self, backend):
        self.backend = backend
        self.config, self.device, self.dtype = backend.config, backend.device, backend.dtype
        self.images: list[tuple[torch.device, torch.dtype]] = []

    def encode(self, image, mask):
        """Record the image, then run the template branch."""
        self.images.append((image.device, image.dtype))
        return self.backend.encode(image, mask)

    def search(self, templates, image, mask):
        """Record the image, then run the search branch."""
        self.images.append((image.device, image.dtype))
        return self.backend.search(templates, image, mask)


@pytest.mark.parametrize('network', [lambda: build_stark(SMALL).eval(),
                                     lambda: fixture_model('lightning', salt=1)],
                         ids=['stark', 'lightning'])
def test_eager_networks_state_where_their_weights_are(network):
    model = network()
    assert (model.device, model.dtype) == (CPU, torch.float32)
    half = prepare_for_inference(model, CPU, half=True)
    assert (half.device, half.dtype) == (CPU, torch.bfloat16)


def test_tracker_makes_the_crops_its_backend_asks_for():
    torch.manual_seed(0)
    backend = Recorder(prepare_for_inference(build_stark(SMALL), CPU, half=True))
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    tracker = MultiTargetTracker(backend)
    for box in [(140.0, 100.0, 40.0, 40.0), (20.0, 30.0, 50.0, 40.0)]:
        tracker.add(frame, box)
    assert all(np.isfinite(r.box_xywh).all() for r in tracker.track(frame).values())
    # Two templates, then one batched search: every crop in the backend's bfloat16.
    assert backend.images == [(CPU, torch.bfloat16)] * 3
