"""Replay STARK's per-frame search branch as a CUDA graph: one launch instead of hundreds.

At batch 1 the search branch is a few hundred small kernels, and launching them costs more than
running them on a large GPU. A CUDA graph records them once per batch size and replays them;
each frame only copies its inputs into the recorded buffers.
"""
from typing import NamedTuple

import torch

from stt_tracker_ros.model.stark import Stark, StarkOutput, Tokens


class _Recording(NamedTuple):
    graph: torch.cuda.CUDAGraph
    templates: list[Tokens]   # static input buffers
    image: torch.Tensor
    mask: torch.Tensor
    output: StarkOutput       # static output buffers, overwritten by every replay
    copied: list[Tokens]      # the tokens now in `templates` (only new ones are copied)


def _copy_tokens(tokens: Tokens) -> Tokens:
    return Tokens(tokens.feat.clone(), tokens.mask.clone(), tokens.pos.clone())


class GraphedStark:
    """Wraps a CUDA STARK model; `encode` runs eagerly, `search` replays a recorded graph.

    The outputs of `search` are the graph's own buffers: read them before the next call (the
    tracker does, in the same frame). With `compiled`, the recorded search branch is the one
    torch.compile makes (element-wise operations fused into fewer kernels); compiling costs
    a minute or so at the first frame of each batch size.
    """

    def __init__(self, model: Stark, warmup_runs: int = 3, compiled: bool = False):
        if model.device.type != 'cuda':
            raise ValueError('CUDA graphs need the model on a CUDA device')
        self.model = model
        self.config = model.config
        # The graphs are recorded on the model's device and dtype, so they are fixed from here on.
        self.device, self.dtype = model.device, model.dtype
        self.warmup_runs = warmup_runs
        self._search = (torch.compile(model.search, dynamic=False, fullgraph=True)
                        if compiled else model.search)
        self._recordings: dict[int, _Recording] = {}

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Template branch, eager (it runs once per template)."""
        return self.model.encode(image, mask)

    def search(self, templates: list[Tokens], image: torch.Tensor,
               mask: torch.Tensor) -> StarkOutput:
        """Same contract as `Stark.search`, replayed from a graph recorded per batch size."""
        recording = self._recordings.get(image.shape[0])
        if recording is None:
            recording = self._recordings[image.shape[0]] = self._record(templates, image, mask)
        for static, held, current in zip(recording.templates, recording.copied, templates):
            if held is not current:   # the templates change rarely: copy only new ones
                static.feat.copy_(current.feat)
                static.mask.copy_(current.mask)
                static.pos.copy_(current.pos)
        recording.copied[:] = templates
        recording.image.copy_(image)
        recording.mask.copy_(mask)
        recording.graph.replay()
        return recording.output

    def _record(self, templates: list[Tokens], image: torch.Tensor,
                mask: torch.Tensor) -> _Recording:
        static_templates = [_copy_tokens(t) for t in templates]
        static_image, static_mask = image.clone(), mask.clone()
        # Warm up on a side stream so lazy initialisation is not recorded.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(self.warmup_runs):
                self._search(static_templates, static_image, static_mask)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output = self._search(static_templates, static_image, static_mask)
        return _Recording(graph, static_templates, static_image, static_mask, output,
                          list(templates))
