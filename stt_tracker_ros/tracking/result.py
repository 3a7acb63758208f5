"""What the tracker reports each frame."""
import enum
from dataclasses import dataclass


class TrackState(enum.IntEnum):
    """Target state a robot can act on; values match the status message constants."""

    IDLE = 0       # no target: never initialised, or reset
    TRACKING = 1   # confidence at or above the lost threshold; always without a score head
    LOST = 2       # confidence below the threshold for `lost_patience` frames; still searching


class InvalidBoxError(ValueError):
    """An init box that cannot start a track (outside the frame, too small or too large,
    negative or NaN), or a box whose crop window holds no pixel of the frame."""


class InvalidFrameError(ValueError):
    """A frame the tracker cannot use (wrong dtype, shape, channels or size change mid-track)."""


@dataclass(frozen=True)
class TrackResult:
    """One frame's output.

    Attributes:
        box_xywh: target box (x, y, w, h) in image pixels, top-left origin.
        confidence: score-head confidence in [0, 1]; NaN for models without a score head
            (STARK-S, STARK-Lightning), which compute none.
        state: TRACKING or LOST after this frame.
        template_updated: True when the dynamic template was refreshed on this frame.
        frame_index: frames tracked since initialisation (1 for the first `track` call).
    """

    box_xywh: tuple[float, float, float, float]
    confidence: float
    state: TrackState
    template_updated: bool
    frame_index: int
