"""Export of the template and search branches for ONNX Runtime and TensorRT."""
