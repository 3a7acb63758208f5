"""Training samples as a torch Dataset: sample `i` depends only on the seed and `i`.

Each index seeds its own generator, so the samples are the same with any number of data-loading
workers or processes, and a resumed run sees the samples an uninterrupted run would have seen.
The samplers in `distributed` give epoch `e` the indices [e * N, (e + 1) * N).
"""
import numpy as np
import torch
from torch.utils.data import Dataset

from stt_tracker_ros.training.processing import PairProcessor, box_away, centre_box, overlaps_crop
from stt_tracker_ros.training.sampler import FrameRef, FrameSampler, Selection

_MAX_TRIES = 100   # rejected samples redrawn before giving up


class PairDataset(Dataset):
    """Template/search crops with the search box and a target-present label."""

    def __init__(self, sampler: FrameSampler, processor: PairProcessor, seed: int,
                 length: int):
        """Keep the parts.

        Args:
            sampler: chooses the frames of a sample.
            processor: turns frames and boxes into network inputs.
            seed: base seed; sample `i` uses the generator seeded with (seed, i).
            length: number of indices (epochs times samples per epoch for training).
        """
        self.sampler = sampler
        self.processor = processor
        self.seed = seed
        self.length = length

    def __len__(self) -> int:
        """Number of distinct sample indices."""
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Sample `index` (see `PairProcessor.__call__` for the keys and shapes).

        Besides the crops, `template_sequence` and `search_sequence` number the sequences the
        templates and the search frame come from (`FrameSampler.sequence_id`).

        Raises:
            RuntimeError: every draw was rejected (e.g. boxes far outside their frames).
        """
        rng = np.random.default_rng((self.seed, index))
        for _ in range(_MAX_TRIES):
            sample = self._draw(rng, self.sampler.sample(rng))
            if sample is not None:
                return sample
        raise RuntimeError(f'sample {index}: {_MAX_TRIES} draws rejected; check the boxes')

    def _draw(self, rng: np.random.Generator, selection: Selection
              ) -> dict[str, torch.Tensor] | None:
        cache: dict[FrameRef, np.ndarray] = {}

        def frame(ref: FrameRef) -> np.ndarray:
            if ref not in cache:
                cache[ref] = self.sampler.sources[ref.source][ref.sequence].frames[ref.frame]
            return cache[ref]

        def box(ref: FrameRef) -> np.ndarray:
            return self.sampler.sources[ref.source][ref.sequence].boxes[ref.frame]

        search = frame(selection.search)
        search_box = box(selection.search)
        if selection.crop == 'centre':
            search_box = centre_box(*search.shape[:2])
        elif selection.crop == 'away':
            search_box = box_away(rng, search_box, self.processor.search.factor)
        sample = self.processor(rng, [frame(t) for t in selection.templates],
                                [box(t) for t in selection.templates], search, search_box,
                                selection.label)
        if sample is None or (selection.crop == 'away' and overlaps_crop(sample['search_box'])):
            return None   # the jittered crop caught the target after all: draw again
        sequence_id = self.sampler.sequence_id
        sample['template_sequence'] = torch.tensor(sequence_id(selection.templates[0]))
        sample['search_sequence'] = torch.tensor(sequence_id(selection.search))
        return sample
