"""The interface between the tracker and whatever runs the network.

Three backends implement it: the PyTorch networks themselves (`Stark`, `StarkLightning`: eager),
`cuda_graph.GraphedStark` (the search branch replayed as a CUDA graph) and
`onnx_backend.OnnxStark` (ONNX Runtime sessions, on CUDA or TensorRT where the build has them).
Each says where and in which dtype it wants its inputs; the tracker makes the crops there: on a
CUDA device from one upload of the frame (`device_crop`), on the CPU with OpenCV.
"""
from collections.abc import Sequence
from typing import Protocol

import torch

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.stark import StarkOutput, Tokens


class StarkBackend(Protocol):
    """Runs STARK's template and search branches for the tracker."""

    config: ModelConfig   # crop sizes, number of templates, score head

    @property
    def device(self) -> torch.device:
        """Where the inputs of `encode` and `search` must be (the crops are made there)."""

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the image inputs."""

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Template branch: a [1, 3, T, T] normalised crop and its [1, T, T] padding mask to
        template tokens."""

    def search(self, templates: Sequence[Tokens], image: torch.Tensor,
               mask: torch.Tensor) -> StarkOutput:
        """Search branch: the template tokens (batch B) and [B, 3, S, S] search crops with their
        [B, S, S] padding masks to boxes (and logits where the model has a score head)."""
