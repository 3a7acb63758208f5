"""Several independent targets on one stream, all searched in one batched forward pass."""
import numpy as np
import torch

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.model.stark import Tokens
from stt_tracker_ros.tracking.backends import StarkBackend
from stt_tracker_ros.tracking.device_crop import FrameUpload
from stt_tracker_ros.tracking.result import TrackResult, TrackState
from stt_tracker_ros.tracking.target_set import TargetSet
from stt_tracker_ros.tracking.tracker import SearchInput, StarkTracker, read_outputs


def _batch_tokens(tokens: list[Tokens]) -> Tokens:
    """Stack batch-1 tokens of several targets along the batch dimension."""
    return Tokens(torch.cat([t.feat for t in tokens], dim=1),
                  torch.cat([t.mask for t in tokens], dim=0),
                  torch.cat([t.pos for t in tokens], dim=1))


class MultiTargetTracker:
    """Tracks any number of targets; each behaves exactly like its own StarkTracker.

    Targets get string ids '1', '2', ... in the order they are added; beyond `max_targets` a new
    one replaces the oldest, and a target whose tracking steps keep raising reports LOST
    (`TargetSet`). Per frame, every target's search crop goes through the network together
    (batch = number of targets), with one host-device synchronisation.
    """

    def __init__(self, model: StarkBackend, config: TrackerConfig | None = None,
                 max_targets: int | None = None):
        """Track with `model`, `config` (TrackerConfig defaults when None), at most
        `max_targets` targets at once (None: no limit)."""
        self.model = model
        self._config = config or TrackerConfig()
        self._targets: TargetSet[StarkTracker] = TargetSet(max_targets)
        self._upload: FrameUpload | None = None   # shared by the targets' trackers
        self._batch_key: list[Tokens] = []   # the tokens `_batch` was stacked from
        self._batch: list[Tokens] = []

    @property
    def config(self) -> TrackerConfig:
        """Settings shared by all targets; assigning applies them to every target."""
        return self._config

    @config.setter
    def config(self, config: TrackerConfig) -> None:
        self._config = config
        for target in self._targets.values():
            target.config = config

    @property
    def max_targets(self) -> int | None:
        """Targets followed at once; adding one more replaces the oldest (None: no limit)."""
        return self._targets.max_targets

    @max_targets.setter
    def max_targets(self, max_targets: int | None) -> None:
        self._targets.max_targets = max_targets

    @property
    def target_ids(self) -> list[str]:
        """Ids of the current targets, oldest first."""
        return self._targets.ids

    @property
    def states(self) -> dict[str, TrackState]:
        """Each target's state by id, oldest first (LOST while its steps keep failing)."""
        return self._targets.states(self._config.lost_patience)

    def add(self, frame: np.ndarray, box_xywh) -> str:
        """Start a new target on `frame`, replacing the oldest beyond `max_targets`; returns its
        id (InvalidBoxError/InvalidFrameError leave the targets as they were)."""
        target = StarkTracker(self.model, self._config, self._upload)
        self._upload = target.upload
        target.initialize(frame, box_xywh)
        return self._targets.add(target)

    def remove(self, target_id: str) -> None:
        """Forget one target (KeyError if unknown)."""
        self._targets.remove(target_id)

    def clear(self) -> None:
        """Forget every target."""
        self._targets.clear()

    def track(self, frame: np.ndarray) -> dict[str, TrackResult]:
        """Track every target in `frame` (InvalidFrameError leaves all targets unchanged; any
        other exception counts as a failed step of every target)."""
        return self._targets.step(lambda: self._track(frame))

    @torch.inference_mode()
    def _track(self, frame: np.ndarray) -> dict[str, TrackResult]:
        if not self._targets:
            return {}
        anchors = {i: t.search_anchor(frame) for i, t in self._targets.items()}
        first = next(iter(self._targets.values()))
        size = self.model.config.search_size
        images, masks, factors = first.crops(frame, list(anchors.values()),
                                             first.search_factor, size)
        output = self.model.search(self._batched_templates(), images, masks)
        rows = read_outputs(output)
        return {i: target.finish(frame, SearchInput(images[k:k + 1], masks[k:k + 1], anchors[i],
                                                    size / factors[k]), rows[k])
                for k, (i, target) in enumerate(self._targets.items())}

    def _batched_templates(self) -> list[Tokens]:
        """The targets' template tokens stacked per template slot, rebuilt only when a target's
        templates changed (init, update, removal) since the last frame."""
        current = [token for target in self._targets.values() for token in target.templates]
        if len(current) != len(self._batch_key) or any(
                a is not b for a, b in zip(current, self._batch_key)):
            slots = len(next(iter(self._targets.values())).templates)
            self._batch = [_batch_tokens([t.templates[k] for t in self._targets.values()])
                           for k in range(slots)]
            self._batch_key = current
        return self._batch
