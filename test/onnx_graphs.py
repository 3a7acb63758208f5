"""Checks shared by the ONNX export tests of every network."""
import onnx


def assert_static_and_boolean_free(graph: onnx.GraphProto) -> None:
    """No boolean tensor anywhere in a shape-inferred `graph`, and every input and output has a
    fixed size in every dimension (what TensorRT engines and the official export want)."""
    values = list(graph.input) + list(graph.output) + list(graph.value_info)
    assert not [v.name for v in values if v.type.tensor_type.elem_type == onnx.TensorProto.BOOL]
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        assert dims and all(d.HasField('dim_value') for d in dims), value.name
