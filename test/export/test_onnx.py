"""Exported ONNX graphs give PyTorch's outputs under ONNX Runtime (CPU) and carry no booleans."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.config import ModelConfig, TrackerConfig, override
from stt_tracker_ros.export.onnx_export import export_onnx
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.parity import _model_input, fixture_frames, fixture_model
from stt_tracker_ros.tracking.factory import build_tracker
from stt_tracker_ros.tracking.multi_target import MultiTargetTracker
from stt_tracker_ros.tracking.onnx_backend import (TENSORRT_CACHE, OnnxStark, execution_providers,
                                                   provider_device)
from stt_tracker_ros.tracking.tracker import StarkTracker

onnx = pytest.importorskip('onnx')
onnxruntime = pytest.importorskip('onnxruntime')

from onnx_graphs import assert_static_and_boolean_free  # noqa: E402  (needs onnx)


@pytest.fixture(scope='module')
def data(parity_fixture_path):
    with np.load(parity_fixture_path) as archive:
        return {k: archive[k] for k in archive.files
                if k.startswith(('st50', 'tracker')) or k == 'salt'}


@pytest.fixture(scope='module')
def exported(data, tmp_path_factory):
    model = fixture_model('st50', int(data['salt']))
    folder = tmp_path_factory.mktemp('onnx')
    export_onnx(model, folder)
    return model, folder


def test_graphs_have_static_shapes_and_no_booleans(exported):
    _, folder = exported
    for name in ('template', 'search'):
        graph = onnx.shape_inference.infer_shapes(onnx.load(folder / f'{name}.onnx')).graph
        assert_static_and_boolean_free(graph)


def test_onnx_runtime_equals_pytorch(exported, data):
    model, folder = exported
    assert not any(m.training for m in model.modules())  # export left the model in eval mode
    runtime = OnnxStark(folder)
    with torch.inference_mode():
        ours = [model.encode(*_model_input(data, f'st50/template{i}')) for i in range(2)]
        theirs = [runtime.encode(*_model_input(data, f'st50/template{i}')) for i in range(2)]
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(b.feat.numpy(), a.feat.numpy(), atol=1e-4, rtol=1e-4)
            np.testing.assert_array_equal(b.mask.numpy(), a.mask.float().numpy())
        for j in range(2):
            image, mask = _model_input(data, f'st50/search{j}')
            expected = model.search(ours, image, mask)
            got = runtime.search(theirs, image, mask)
            np.testing.assert_allclose(got.boxes.numpy(), expected.boxes.numpy(), atol=1e-5)
            np.testing.assert_allclose(got.logits.numpy(), expected.logits.numpy(), atol=1e-5)


def test_tracker_on_onnx_backend_matches_reference(exported, data):
    _, folder = exported
    tracker = build_tracker(str(folder), device='cpu', config=TrackerConfig(
        update_interval=int(data['tracker/update_interval']), lost_threshold=0.0))
    assert isinstance(tracker, StarkTracker) and isinstance(tracker.model, OnnxStark)
    frames = fixture_frames(data)
    tracker.initialize(frames[0], data['tracker/init_box'])
    results = [tracker.track(frame) for frame in frames[1:]]
    boxes = np.array([r.box_xywh for r in results])
    np.testing.assert_allclose(boxes, data['tracker/boxes'][1:], atol=0.1)
    np.testing.assert_allclose([r.confidence for r in results], data['tracker/conf'][1:],
                               atol=1e-4)


def test_onnx_backend_tracks_several_targets(exported, data):
    _, folder = exported
    multi = MultiTargetTracker(OnnxStark(folder))
    frames = fixture_frames(data)
    single = StarkTracker(OnnxStark(folder))
    boxes = [(76.0, 105.0, 40.0, 30.0), (150.0, 60.0, 50.0, 60.0)]
    for box in boxes:
        multi.add(frames[0], box)
    single.initialize(frames[0], boxes[1])
    batched = multi.track(frames[1])
    np.testing.assert_allclose(batched['2'].box_xywh, single.track(frames[1]).box_xywh, atol=1e-3)


def test_onnx_backend_states_its_device_and_dtype(exported):
    _, folder = exported
    runtime = OnnxStark(folder)
    assert not isinstance(runtime, torch.nn.Module)   # no parameters to guess a device from
    assert (runtime.device, runtime.dtype) == (torch.device('cpu'), torch.float32)
    assert not StarkTracker(runtime).device_crop


def test_provider_device_is_the_gpu_of_a_cuda_or_tensorrt_provider():
    assert provider_device({'CPUExecutionProvider': {}}) == torch.device('cpu')
    assert provider_device({'CUDAExecutionProvider': {'device_id': '1'},
                            'CPUExecutionProvider': {}}) == torch.device('cuda', 1)
    assert provider_device({'TensorrtExecutionProvider': {'device_id': '0'},
                            'CUDAExecutionProvider': {'device_id': '0'},
                            'CPUExecutionProvider': {}}) == torch.device('cuda', 0)
    assert provider_device({'CUDAExecutionProvider': {}}) == torch.device('cuda', 0)


def _recording(branch, devices: list):
    """`branch` (encode or search), recording the device of the image it is handed."""
    def run(*args):
        devices.append(args[-2].device)   # both branches take (..., image, mask)
        return branch(*args)
    return run


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available()
                    or 'CUDAExecutionProvider' not in onnxruntime.get_available_providers(),
                    reason='needs CUDA and an ONNX Runtime with its CUDA provider')
def test_cuda_onnx_runtime_is_handed_device_crops(exported, data):
    _, folder = exported
    runtime = OnnxStark(folder, execution_providers(torch.device('cuda')))
    assert runtime.device.type == 'cuda'
    devices = []
    runtime.encode = _recording(runtime.encode, devices)
    runtime.search = _recording(runtime.search, devices)
    tracker = StarkTracker(runtime, TrackerConfig(
        update_interval=int(data['tracker/update_interval']), lost_threshold=0.0))
    assert tracker.device_crop
    frames = fixture_frames(data)
    tracker.initialize(frames[0], data['tracker/init_box'])
    boxes = [tracker.track(frame).box_xywh for frame in frames[1:]]
    assert devices and {d.type for d in devices} == {'cuda'}
    # The same tracker: only the GPU's arithmetic (and one-grey-level crop differences) differ.
    np.testing.assert_allclose(boxes, data['tracker/boxes'][1:], atol=1.0)


def test_export_command(tmp_path):
    assert main(['export', str(tmp_path / 'out'), '--variant', 's50', '--random-weights']) == 0
    assert (tmp_path / 'out' / 'search.onnx').stat().st_size > 1e6
    assert OnnxStark(tmp_path / 'out').config.name == 's50'


def test_providers_prefer_tensorrt_then_cuda_where_the_build_has_them(monkeypatch):
    import onnxruntime

    cuda, cpu = torch.device('cuda'), torch.device('cpu')
    monkeypatch.setattr(onnxruntime, 'get_available_providers', lambda: [
        'TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider'])
    (name, options), *rest = execution_providers(cuda, half=True)
    assert name == 'TensorrtExecutionProvider' and rest == ['CUDAExecutionProvider',
                                                            'CPUExecutionProvider']
    assert options['trt_fp16_enable'] == 'True'
    assert options['trt_engine_cache_path'] == str(TENSORRT_CACHE)
    assert execution_providers(cuda)[0][1]['trt_fp16_enable'] == 'False'
    assert execution_providers(cpu) == ['CPUExecutionProvider']
    monkeypatch.setattr(onnxruntime, 'get_available_providers',
                        lambda: ['CUDAExecutionProvider', 'CPUExecutionProvider'])
    assert execution_providers(cuda, half=True) == ['CUDAExecutionProvider',
                                                    'CPUExecutionProvider']


@pytest.mark.parametrize('extra', [dict(score_input='match'),
                                   dict(score_input='match', box_correlation=True)],
                         ids=['appearance_match', 'target_correlation'])
def test_the_default_models_extra_inputs_export(tmp_path, extra):
    """The default model's score input (model/appearance_match.py) and corner-head prior
    (model/target_correlation.py) run under ONNX Runtime."""
    torch.manual_seed(0)
    config = override(ModelConfig(), dict(
        backbone='efficientnet_lite0', hidden_dim=32, num_heads=2, encoder_layers=1,
        decoder_layers=1, ffn_dim=64, head_channels=16, template_size=64, search_size=128,
        **extra))
    model = build_stark(config).eval()
    export_onnx(model, tmp_path)
    runtime = OnnxStark(tmp_path)
    generator = torch.Generator().manual_seed(1)
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    images = [torch.randn(1, 3, 64, 64, generator=generator) for _ in range(2)]
    search = torch.randn(1, 3, 128, 128, generator=generator)
    search_mask = torch.zeros(1, 128, 128, dtype=torch.bool)
    with torch.inference_mode():
        expected = model.search([model.encode(i, mask) for i in images], search, search_mask)
        got = runtime.search([runtime.encode(i, mask) for i in images], search, search_mask)
    np.testing.assert_allclose(got.boxes.numpy(), expected.boxes.numpy(), atol=1e-5)
    np.testing.assert_allclose(got.logits.numpy(), expected.logits.numpy(), atol=1e-5)
