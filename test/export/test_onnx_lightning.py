"""STARK-Lightning exports as the official two-graph split (template branch; complete search
branch), static, boolean-free and RepVGG-fused, and ONNX Runtime gives PyTorch's outputs."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.export.onnx_export import export_onnx
from stt_tracker_ros.parity import _model_input, fixture_frames, fixture_model
from stt_tracker_ros.tracking.factory import build_tracker
from stt_tracker_ros.tracking.tracker import StarkTracker

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from onnx_graphs import assert_static_and_boolean_free  # noqa: E402  (needs onnx)

from stt_tracker_ros.tracking.onnx_backend import OnnxStark  # noqa: E402  (needs onnxruntime)


@pytest.fixture(scope='module')
def exported(lightning_data, tmp_path_factory):
    """The official training-time network (unfused) and the folder it was exported to."""
    model = fixture_model('lightning', int(lightning_data['salt']), fused=False)
    folder = tmp_path_factory.mktemp('lightning_onnx')
    export_onnx(model, folder)
    return model, folder


def test_two_static_graphs_without_booleans_with_fused_repvgg(exported):
    model, folder = exported
    assert any('rbr_dense' in k for k in model.state_dict())   # the caller's model is untouched
    expected = {'template': (['image', 'mask'], ['feat', 'feat_mask', 'pos']),
                'search': (['image', 'mask', 'template_feat', 'template_mask', 'template_pos'],
                           ['boxes'])}   # no score head: no logit
    for name, (inputs, outputs) in expected.items():
        graph = onnx.shape_inference.infer_shapes(onnx.load(folder / f'{name}.onnx')).graph
        assert [v.name for v in graph.input] == inputs
        assert [v.name for v in graph.output] == outputs
        assert_static_and_boolean_free(graph)
        # One convolution per RepVGG block: 11 in the body, 2 in the head, plus the head's last
        # one (and the bottleneck for each graph).
        convolutions = sum(node.op_type == 'Conv' for node in graph.node)
        assert convolutions == (12 if name == 'template' else 15)


def test_onnx_runtime_equals_pytorch(exported, lightning_data):
    model, folder = exported
    runtime = OnnxStark(folder)
    assert runtime.config.name == 'lightning'
    with torch.inference_mode():
        ours = model.encode(*_model_input(lightning_data, 'lightning/template'))
        theirs = runtime.encode(*_model_input(lightning_data, 'lightning/template'))
        np.testing.assert_allclose(theirs.feat.numpy(), ours.feat.numpy(), atol=1e-3, rtol=1e-4)
        np.testing.assert_array_equal(theirs.pos.numpy(), ours.pos.numpy())
        for j in range(2):
            image, mask = _model_input(lightning_data, f'lightning/search{j}')
            expected = model.search([ours], image, mask)
            got = runtime.search([theirs], image, mask)
            assert got.logits is None
            np.testing.assert_allclose(got.boxes.numpy(), expected.boxes.numpy(), atol=1e-5)
            reference = lightning_data[f'lightning/search{j}/pred_boxes']
            np.testing.assert_allclose(got.boxes.numpy(), reference, atol=1e-4)


def test_tracker_on_the_export_folder_follows_pytorch(exported, lightning_data):
    model, folder = exported
    frames = fixture_frames(lightning_data)[:3]
    runtime = build_tracker(str(folder), device='cpu')
    eager = StarkTracker(model)
    for tracker in (runtime, eager):
        tracker.initialize(frames[0], lightning_data['tracker/init_box'])
    for frame in frames[1:]:
        np.testing.assert_allclose(runtime.track(frame).box_xywh, eager.track(frame).box_xywh,
                                   atol=1e-2)
