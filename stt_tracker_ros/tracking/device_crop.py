"""The reference crop computed with torch on the frame's device (GPU path; also runs on CPU).

Same window, padding and mask rules as `crop.crop_and_resize`; the bilinear resize is torch's
(half-pixel centres, no antialiasing, like cv2.INTER_LINEAR). OpenCV resizes uint8 images with
11-bit fixed-point weights, so pixels may differ by one grey level (1/255 before
normalisation); the masks agree.
"""
import torch
import torch.nn.functional as F

from stt_tracker_ros.tracking.crop import normalise, padded_window


def frame_to_device(frame, device: torch.device | str) -> torch.Tensor:
    """Copy an HxWx3 uint8 numpy frame to `device` once (pinned, asynchronous on CUDA)."""
    tensor = torch.from_numpy(frame)
    if torch.device(device).type == 'cuda':
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


class FrameUpload:
    """The device copy of the frame being processed, made once however many crops use it.

    Trackers of several targets share one, so a frame goes to the GPU once, not once per target.
    """

    def __init__(self, device: torch.device | str):
        self.device = device
        self._frame = None
        self._tensor: torch.Tensor | None = None

    def __call__(self, frame) -> torch.Tensor:
        """The device tensor of `frame` (numpy), uploading it if it is a new frame."""
        if frame is not self._frame:
            self._frame, self._tensor = frame, frame_to_device(frame, self.device)
        return self._tensor


def crop_on_device(frame: torch.Tensor, box_xywh, factor: float, output_size: int,
                   dtype: torch.dtype = torch.float32
                   ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Crop, pad, resize and normalise on the frame's device.

    Args:
        frame: [H, W, 3] uint8 RGB tensor.
        box_xywh: box the crop is centred on (pixels).
        factor: crop side relative to sqrt(w * h).
        output_size: side of the output.
        dtype: dtype of the returned image.

    Returns:
        ([1, 3, S, S] normalised image, [1, S, S] bool padding mask, resize factor).
    """
    w = padded_window(box_xywh, factor, *frame.shape[:2])
    image = frame[w.inside()].permute(2, 0, 1).unsqueeze(0).float()  # [1, 3, h, w]
    image = F.pad(image, (w.left, w.right, w.top, w.bottom))
    valid = torch.zeros(1, 1, w.side, w.side, device=frame.device)
    valid[..., w.top:w.side - w.bottom, w.left:w.side - w.right] = 1.0
    size = (output_size, output_size)
    image = F.interpolate(image, size=size, mode='bilinear', align_corners=False)
    image = image.round_().clamp_(0, 255).div_(255.0)  # OpenCV returns uint8 here
    mask = F.interpolate(1.0 - valid, size=size, mode='bilinear', align_corners=False)[:, 0] > 0
    return normalise(image).to(dtype), mask, output_size / w.side
