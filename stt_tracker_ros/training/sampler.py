"""Choose template and search frames for one training sample (STARK's TrackingSampler).

Sources are drawn by ratio, then a sequence uniformly inside the source. Modes:

* `causal` (STARK-S): the first template is a visible frame t, further templates are visible
  frames in [t - gap, t), the search frame is a visible frame in (t, t + gap]; the gap grows by 5
  until such frames exist.
* `trident_pro` (STARK-ST): the initial template and the search frame are visible frames anywhere
  in the video; each further (dynamic) template is a visible frame within `max_gap` of the search
  frame, on the initial template's side. The official code also allows invisible frames for the
  dynamic template; here every crop needs a box, so it must be visible.

A one-frame sequence (a detection image) fills every slot with its only frame. With
`negative_prob` > 0 (stage 2) the search frame is, with that probability, a negative. In a video,
half of the negatives are the search frame itself cropped away from the target (the scene a
drifting tracker sees); the others are a frame of the same video where the target is absent
(cropped around the image centre), or else a visible frame of another random sequence (cropped
around that sequence's own target).
"""
import logging
from typing import NamedTuple

import numpy as np

from stt_tracker_ros.data.sequence import Sequence

log = logging.getLogger(__name__)

_GAP_STEP = 5        # causal mode: gap increase per failed attempt
_MAX_ATTEMPTS = 100  # sequences tried before giving up
AWAY_SHARE = 0.5     # share of a video's negatives cropped away from the target


class FrameRef(NamedTuple):
    """One frame of one sequence of one source."""

    source: int
    sequence: int
    frame: int


class Selection(NamedTuple):
    """The frames of one sample."""

    templates: tuple[FrameRef, ...]  # initial template first
    search: FrameRef
    label: float                      # 1.0: the search frame shows the templates' target
    crop: str = 'target'              # search crop around: 'target' (its own sequence's box),
    #                                   'centre' (of the image; target absent), 'away' (off it)


class FrameSampler:
    """Draws `Selection`s from a random generator; holds no state besides the sequences."""

    def __init__(self, sources: list[list[Sequence]], ratios: list[float], num_templates: int,
                 mode: str = 'trident_pro', max_gap: int = 200, min_frames: int = 20,
                 negative_prob: float = 0.0):
        """Keep the usable sequences of each source.

        Args:
            sources: sequences per data source.
            ratios: relative sampling weight of each source.
            num_templates: template frames per sample (1 for STARK-S, 2 for STARK-ST).
            mode: 'causal' or 'trident_pro'.
            max_gap: largest frame distance between template and search (dynamic template).
            min_frames: videos with fewer frames are skipped.
            negative_prob: share of negative search frames (0 in stage 1, 0.5 in stage 2).

        Raises:
            ValueError: no source has a usable sequence, or an unknown mode.
        """
        if mode not in ('causal', 'trident_pro'):
            raise ValueError(f'unknown sampling mode {mode!r}')
        self.sources = sources
        self.num_templates = num_templates
        self.mode = mode
        self.max_gap = max_gap
        self.negative_prob = negative_prob
        needed = 2 * (num_templates + 1)   # the official minimum of visible frames
        self.usable = [[i for i, seq in enumerate(source)
                        if (len(seq) == 1 and seq.visible[0])
                        or (len(seq) >= min_frames and seq.visible.sum() > needed)]
                       for source in sources]
        for index, (source, usable) in enumerate(zip(sources, self.usable)):
            if len(usable) < len(source):
                log.info('source %d: %d of %d sequences usable (>= %d frames, > %d visible)',
                         index, len(usable), len(source), min_frames, needed)
        weights = np.array([r if u else 0.0 for r, u in zip(ratios, self.usable)], np.float64)
        if not weights.sum() > 0:
            raise ValueError('no data source has a usable sequence')
        self.weights = weights / weights.sum()

    def _sequence(self, rng: np.random.Generator) -> tuple[int, int]:
        source = int(rng.choice(len(self.weights), p=self.weights))
        return source, int(rng.choice(self.usable[source]))

    def sample(self, rng: np.random.Generator) -> Selection:
        """Draw one sample's frames (positive, or negative with `negative_prob`)."""
        for _ in range(_MAX_ATTEMPTS):
            source, index = self._sequence(rng)
            seq = self.sources[source][index]
            if len(seq) == 1:
                frames = ((0,) * self.num_templates, 0)
            elif self.mode == 'causal':
                frames = self._causal(rng, seq.visible)
            else:
                frames = self._trident(rng, seq.visible)
            if frames is not None:
                break
        else:
            raise RuntimeError(f'no frames found in {_MAX_ATTEMPTS} sequences')
        templates = tuple(FrameRef(source, index, f) for f in frames[0])
        search = FrameRef(source, index, frames[1])
        if not rng.random() < self.negative_prob:
            return Selection(templates, search, 1.0)
        if len(seq) > 1 and rng.random() < AWAY_SHARE:
            return Selection(templates, search, 0.0, 'away')
        absent = np.flatnonzero(~seq.visible)
        if len(seq) > 1 and len(absent):
            return Selection(templates, FrameRef(source, index, int(rng.choice(absent))), 0.0,
                             'centre')
        return Selection(templates, self._other_frame(rng, (source, index)), 0.0)

    def sequence_id(self, ref: FrameRef) -> int:
        """One number per sequence over all sources (sources in order, then sequences)."""
        return sum(len(source) for source in self.sources[:ref.source]) + ref.sequence

    def _other_frame(self, rng: np.random.Generator, exclude: tuple[int, int]) -> FrameRef:
        """A visible frame of a random sequence other than `exclude` (itself if it is alone)."""
        for _ in range(_MAX_ATTEMPTS):
            source, index = self._sequence(rng)
            if (source, index) != exclude:
                break
        visible = np.flatnonzero(self.sources[source][index].visible)
        return FrameRef(source, index, int(rng.choice(visible)))

    def _causal(self, rng: np.random.Generator, visible: np.ndarray
                ) -> tuple[tuple[int, ...], int] | None:
        shown = np.flatnonzero(visible)
        bases = shown[(shown >= self.num_templates - 1) & (shown < shown[-1])]
        if not len(bases):
            return None
        base = int(rng.choice(bases))
        gap = self.max_gap
        while gap < len(visible) + self.max_gap:
            before = shown[(shown >= base - gap) & (shown < base)]
            after = shown[(shown > base) & (shown <= base + gap)]
            if len(after) and len(before) >= self.num_templates - 1:
                extra = rng.choice(before, self.num_templates - 1, replace=False)
                return (base, *map(int, extra)), int(rng.choice(after))
            gap += _GAP_STEP
        return None

    def _trident(self, rng: np.random.Generator, visible: np.ndarray
                 ) -> tuple[tuple[int, ...], int]:
        shown = np.flatnonzero(visible)
        initial, search = (int(v) for v in rng.choice(shown, 2))
        if search >= initial:
            window = shown[(shown >= search - self.max_gap) & (shown <= search)]
        else:
            window = shown[(shown >= search) & (shown <= search + self.max_gap)]
        # The window always holds the search frame itself, so this never fails.
        dynamic = rng.choice(window, self.num_templates - 1)
        return (initial, *map(int, dynamic)), search
