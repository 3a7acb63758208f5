"""The CUDA-graph search branch (plain and compiled) gives the eager outputs (GPU only), refuses
the CPU, and the search branch traces for torch.compile as one graph."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.config import ModelConfig, TrackerConfig
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.parity import fixture_frames, fixture_model
from stt_tracker_ros.tracking.cuda_graph import GraphedStark
from stt_tracker_ros.tracking.factory import build_tracker, prepare_for_inference
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker


def test_cpu_model_is_refused():
    with pytest.raises(ValueError, match='CUDA'):
        GraphedStark(fixture_model('s50', salt=1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_graph_replay_equals_eager_for_one_and_two_targets(parity_fixture_path):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with np.load(parity_fixture_path) as archive:
        frames = fixture_frames({k: archive[k] for k in archive.files if k.startswith('tracker')})
    model = prepare_for_inference(fixture_model('st50', salt=3), torch.device('cuda'))
    config = TrackerConfig(update_interval=2, lost_threshold=0.0, update_threshold=0.0)
    eager = MultiTargetTracker(model, config)
    backend = GraphedStark(model)
    assert (backend.device, backend.dtype) == (model.device, torch.float32)
    assert model.device.type == 'cuda'
    graphed = MultiTargetTracker(backend, config)
    for count in (1, 2):
        for tracker in (eager, graphed):
            tracker.clear()
            for box in [(76.0, 105.0, 40.0, 30.0), (150.0, 60.0, 50.0, 60.0)][:count]:
                tracker.add(frames[0], box)
        for frame in frames[1:6]:
            expected, got = eager.track(frame), graphed.track(frame)
            for target_id, result in expected.items():
                np.testing.assert_allclose(got[target_id].box_xywh, result.box_xywh, atol=1e-3)
                assert got[target_id].confidence == pytest.approx(result.confidence, abs=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_no_host_synchronisation_before_the_box_is_read(parity_fixture_path):
    """Upload, crops and the graphed network of a frame queue work without waiting for it."""
    with np.load(parity_fixture_path) as archive:
        frames = fixture_frames({k: archive[k] for k in archive.files if k.startswith('tracker')})
    model = GraphedStark(prepare_for_inference(fixture_model('st50', salt=3),
                                               torch.device('cuda'), half=True))
    tracker = MultiTargetTracker(model)
    for box in [(76.0, 105.0, 40.0, 30.0), (150.0, 60.0, 50.0, 60.0)]:
        tracker.add(frames[0], box)
    tracker.track(frames[1])   # records the graph for two targets
    first = next(iter(tracker._targets.values()))
    anchors = [t.search_anchor(frames[2]) for t in tracker._targets.values()]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        with torch.inference_mode():
            images, masks, _ = first.crops(frames[2], anchors, 5.0, 320)
            output = model.search(tracker._batched_templates(), images, masks)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert torch.isfinite(output.boxes).all()


def _small_model(device: str) -> torch.nn.Module:
    """A small random STARK-ST, folded for inference (compiles in seconds)."""
    config = ModelConfig(name='small', backbone_layers=(1, 1, 1), backbone_width=16,
                         hidden_dim=64, num_heads=4, encoder_layers=2, decoder_layers=2,
                         ffn_dim=128, head_channels=64)
    torch.manual_seed(0)
    return prepare_for_inference(build_stark(config), torch.device(device))


def _search_inputs(model, device: str):
    generator = torch.Generator().manual_seed(1)
    mask = torch.zeros(2, 320, 320, dtype=torch.bool)
    mask[1, :, 250:] = True   # one crop reaches past the frame
    image = torch.randn(2, 3, 320, 320, generator=generator)
    template = model.encode(torch.randn(2, 3, 128, 128, generator=generator).to(device),
                            torch.zeros(2, 128, 128, dtype=torch.bool, device=device))
    return [template, template], image.to(device), mask.to(device)


def test_search_branch_compiles_as_one_graph():
    """torch.compile(fullgraph=True) of the search branch (GraphedStark's `compiled`) must
    trace without a graph break; the trace alone is checked here, on the CPU."""
    model = _small_model('cpu')
    with torch.inference_mode():
        templates, image, mask = _search_inputs(model, 'cpu')
        expected = model.search(templates, image, mask)
        torch._dynamo.reset()
        traced = torch.compile(model.search, backend='eager', fullgraph=True, dynamic=False)
        got = traced(templates, image, mask)
    torch.testing.assert_close(got.boxes, expected.boxes)
    torch.testing.assert_close(got.logits, expected.logits)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_compiled_graph_equals_eager():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = _small_model('cuda')
    graphed = GraphedStark(model, compiled=True)
    with torch.inference_mode():
        templates, image, mask = _search_inputs(model, 'cuda')
        expected = model.search(templates, image, mask)
        for _ in range(2):   # records, then replays
            got = graphed.search(templates, image, mask)
            torch.testing.assert_close(got.boxes, expected.boxes, atol=1e-5, rtol=0)
            torch.testing.assert_close(got.logits, expected.logits, atol=1e-4, rtol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_the_default_model_records_and_replays(parity_fixture_path):
    """The default model's extra inputs (target correlation, appearance match) record into a
    graph: nothing in them is built on the host per frame."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with np.load(parity_fixture_path) as archive:
        frames = fixture_frames({k: archive[k] for k in archive.files if k.startswith('tracker')})
    eager = build_tracker(None, device='cuda', cuda_graphs=False)
    graphed = build_tracker(None, device='cuda', cuda_graphs=True)
    assert isinstance(graphed.model, GraphedStark)
    for tracker in (eager, graphed):
        tracker.initialize(frames[0], (76.0, 105.0, 40.0, 30.0))
    for frame in frames[1:6]:
        expected, got = eager.track(frame), graphed.track(frame)
        np.testing.assert_allclose(got.box_xywh, expected.box_xywh, atol=1e-3)
        assert got.confidence == pytest.approx(expected.confidence, abs=1e-4)
