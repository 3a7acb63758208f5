"""STARK tracking loop: init template, search crop per frame, dynamic template, lost state."""
import logging
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from stt_tracker_ros.config import TrackerConfig
from stt_tracker_ros.model.stark import StarkOutput, Tokens
from stt_tracker_ros.tracking.backends import StarkBackend
from stt_tracker_ros.tracking.boxes import BoxXYWH, clip_box, crop_box_to_frame, validate_init_box
from stt_tracker_ros.tracking.crop import crop_and_resize, to_model_input
from stt_tracker_ros.tracking.device_crop import FrameUpload, crop_batch_on_device
from stt_tracker_ros.tracking.result import (
    InvalidFrameError, TrackResult, TrackState)

log = logging.getLogger(__name__)


class SearchInput(NamedTuple):
    """A search crop ready for the network, and what is needed to map its box back."""

    image: torch.Tensor  # [1, 3, S, S] normalised
    mask: torch.Tensor   # [1, S, S] bool
    anchor: BoxXYWH      # box the crop is centred on
    side: float          # crop side in frame pixels


def read_outputs(output: StarkOutput) -> list[list[float]]:
    """Boxes and confidences of a batch as [cx, cy, w, h, confidence] rows (normalised box).

    This is the one host-device synchronisation of a frame. Models without a score head
    (STARK-S, STARK-Lightning) compute no confidence: theirs is NaN.
    """
    boxes = output.boxes.float()
    if output.logits is None:
        scores = torch.full_like(boxes[:, :1], math.nan)
    else:
        scores = output.logits.float().sigmoid()[:, None]
    return torch.cat((boxes, scores), dim=1).tolist()


def check_frame(frame: np.ndarray) -> tuple[int, int]:
    """Return (height, width) of an HxWx3 uint8 frame, or raise InvalidFrameError."""
    if not isinstance(frame, np.ndarray):
        raise InvalidFrameError(f'frame must be a numpy array, got {type(frame).__name__}')
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidFrameError(
            f'frame must be HxWx3 uint8 RGB, got shape {frame.shape} dtype {frame.dtype}')
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise InvalidFrameError(f'frame is empty: shape {frame.shape}')
    return frame.shape[0], frame.shape[1]


class StarkTracker:
    """Follows one target given by a box on the first frame.

    The logic equals the official STARK-ST tracker (researchmm/Stark, lib/test/tracker/stark_st.py)
    while the target is TRACKING. On top of it: after `lost_patience` consecutive frames below
    `lost_threshold` the state becomes LOST, the search region returns to the last confident box
    and stays there until the confidence comes back (with `follow_when_lost` it keeps following
    the predictions, as the official tracker does). Without a score head (STARK-S,
    STARK-Lightning) the confidence is NaN and the state stays TRACKING, as in the official
    trackers for those models (stark_s.py, stark_lightning_X_trt.py): without a score, nothing
    marks a frame as lost.
    """

    def __init__(self, model: StarkBackend, config: TrackerConfig | None = None,
                 upload: FrameUpload | None = None):
        """
        Args:
            model: the network's backend; a PyTorch module is switched to eval mode. Its
                `device` and `dtype` decide where the crops are made.
            config: tracking settings (TrackerConfig defaults when None).
            upload: the frame upload to share with other targets' trackers (MultiTargetTracker).
        """
        self.model = model.eval() if isinstance(model, nn.Module) else model
        self.config = config or TrackerConfig()
        self.device, self.dtype = model.device, model.dtype
        # Crops run where the backend wants its inputs: on a GPU the frame is uploaded once per
        # frame (once for all targets when their trackers share `upload`).
        self.device_crop = self.device.type == 'cuda'
        self.upload = upload or FrameUpload(self.device)
        self.reset()

    @property
    def state(self) -> TrackState:
        """IDLE before `initialize` and after `reset`; TRACKING or LOST otherwise."""
        return self._state

    def reset(self) -> None:
        """Forget the target."""
        self._state = TrackState.IDLE
        self._templates: list[Tokens] = []
        self._box: BoxXYWH | None = None
        self._confident_box: BoxXYWH | None = None
        self._frame_shape: tuple[int, int] | None = None
        self._frame_index = 0
        self._low_confidence_frames = 0

    @torch.inference_mode()
    def initialize(self, frame: np.ndarray, box_xywh) -> None:
        """Start tracking the object inside `box_xywh` (x, y, w, h pixels) on `frame` (HxWx3 RGB).

        Raises:
            InvalidFrameError, InvalidBoxError: the track is left as it was.
        """
        height, width = check_frame(frame)
        box = validate_init_box(box_xywh, height, width)
        template = self._template(frame, box)
        self.reset()
        self._templates = [template] * self.model.config.num_templates
        self._box = self._confident_box = box
        self._frame_shape = (height, width)
        self._state = TrackState.TRACKING
        log.info('initialised on box %s', tuple(round(v, 1) for v in box))

    @torch.inference_mode()
    def track(self, frame: np.ndarray) -> TrackResult:
        """Locate the target in the next frame.

        Raises:
            RuntimeError: not initialised.
            InvalidFrameError: bad frame, or its size differs from the init frame; the track is
                left unchanged.
        """
        search = self.prepare_search(frame)
        output = self.model.search(self._templates, search.image, search.mask)
        return self.finish(frame, search, read_outputs(output)[0])

    def prepare_search(self, frame: np.ndarray) -> SearchInput:
        """Check the frame and crop the search region (first half of `track`)."""
        return self.search_around(frame, self.search_anchor(frame))

    def search_around(self, frame: np.ndarray, anchor: BoxXYWH) -> SearchInput:
        """The search crop centred on `anchor` (the frame unchecked, the state unchanged)."""
        size = self.model.config.search_size
        images, masks, factors = self.crops(frame, [anchor], self.search_factor, size)
        return SearchInput(images, masks, anchor, size / factors[0])

    @property
    def search_factor(self) -> float:
        """Search crop side / sqrt(target area): the setting's, else the network's."""
        return self.config.search_factor or self.model.config.search_factor

    def search_anchor(self, frame: np.ndarray) -> BoxXYWH:
        """Check the frame; the box the next search crop is centred on.

        Raises:
            RuntimeError: not initialised.
            InvalidFrameError: bad frame, or its size differs from the init frame.
        """
        if self._state == TrackState.IDLE:
            raise RuntimeError('track() called before initialize()')
        if check_frame(frame) != self._frame_shape:
            raise InvalidFrameError(f'frame size changed from {self._frame_shape} to '
                                    f'{frame.shape[:2]} mid-track; re-initialise')
        if self._state == TrackState.LOST and not self.config.follow_when_lost:
            return self._confident_box
        return self._box

    def crops(self, frame: np.ndarray, boxes: list[BoxXYWH], factor: float, size: int
              ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
        """Network inputs of crops around `boxes`: ([N, 3, S, S], [N, S, S], resize factors).

        On a GPU all of them come from one upload of the frame and one batched crop; on the
        CPU from OpenCV, as the reference does.
        """
        if self.device_crop:
            return crop_batch_on_device(self.upload(frame), boxes, factor, size, self.dtype,
                                        self.upload)
        crops = [crop_and_resize(frame, box, factor, size) for box in boxes]
        inputs = [to_model_input(crop, self.device, self.dtype) for crop in crops]
        return (torch.cat([image for image, _ in inputs]), torch.cat([mask for _, mask in inputs]),
                [crop.resize_factor for crop in crops])

    def finish(self, frame: np.ndarray, search: SearchInput, values: list[float]) -> TrackResult:
        """Map the network's box back, update the state and the template (second half of
        `track`); `values` is one row of `read_outputs`."""
        box_crop = tuple(v * search.side for v in values[:4])
        box = clip_box(crop_box_to_frame(box_crop, search.anchor, search.side),
                       *self._frame_shape)
        self._frame_index += 1
        self._update_state(box, values[4])
        updated = self._maybe_update_template(frame, values[4])
        return TrackResult(box, values[4], self._state, updated, self._frame_index)

    @property
    def templates(self) -> list[Tokens]:
        """The cached template tokens (initial first, then the dynamic one for STARK-ST)."""
        return self._templates

    def _update_state(self, box: BoxXYWH, confidence: float) -> None:
        if math.isnan(confidence):   # no score head: no evidence for LOST
            self._box = self._confident_box = box
            return
        confident = confidence >= self.config.lost_threshold
        if confident:
            if self._state == TrackState.LOST:
                log.info('target re-acquired (confidence %.2f)', confidence)
            self._low_confidence_frames = 0
            self._state = TrackState.TRACKING
            self._confident_box = box
        else:
            self._low_confidence_frames += 1
            if (self._state == TrackState.TRACKING
                    and self._low_confidence_frames >= self.config.lost_patience):
                log.info('target lost (confidence %.2f)', confidence)
                self._state = TrackState.LOST
        if self._state == TrackState.TRACKING or self.config.follow_when_lost:
            self._box = box

    def _maybe_update_template(self, frame: np.ndarray, confidence: float) -> bool:
        if (len(self._templates) < 2 or self._state != TrackState.TRACKING
                or self._frame_index % self.config.update_interval != 0
                or not confidence > self.config.update_threshold):
            return False
        self._templates[1] = self._template(frame, self._box)
        return True

    def _template(self, frame: np.ndarray, box: BoxXYWH) -> Tokens:
        image, mask, _ = self.crops(frame, [box], self.config.template_factor,
                                    self.model.config.template_size)
        return self.model.encode(image, mask)
