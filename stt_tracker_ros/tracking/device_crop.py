"""The reference crop computed with torch on the frame's device (GPU path; also runs on CPU).

Same window, padding and mask rules as `crop.crop_and_resize`; the bilinear resize is torch's
(half-pixel centres, no antialiasing, like cv2.INTER_LINEAR). OpenCV resizes uint8 images with
11-bit fixed-point weights, so pixels may differ by one grey level (1/255 before
normalisation); the masks agree.
"""
import torch
import torch.nn.functional as F

from stt_tracker_ros.tracking.crop import IMAGENET_MEAN, IMAGENET_STD, crop_window


def frame_to_device(frame, device: torch.device | str) -> torch.Tensor:
    """Copy an HxWx3 uint8 numpy frame to `device` once (pinned, asynchronous on CUDA)."""
    tensor = torch.from_numpy(frame)
    if torch.device(device).type == 'cuda':
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


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
    height, width = frame.shape[:2]
    x1, y1, side = crop_window(box_xywh, factor)
    x2, y2 = x1 + side, y1 + side
    left, top = max(0, -x1), max(0, -y1)
    right, bottom = max(x2 - width + 1, 0), max(y2 - height + 1, 0)  # see crop.py
    inside = frame[y1 + top:y2 - bottom, x1 + left:x2 - right]
    if inside.numel() == 0:
        raise ValueError(f'crop window of box {box_xywh} lies outside the {width}x{height} frame')
    image = inside.permute(2, 0, 1).unsqueeze(0).float()  # [1, 3, h, w]
    image = F.pad(image, (left, right, top, bottom))
    valid = torch.zeros(1, 1, side, side, device=frame.device)
    valid[..., top:side - bottom, left:side - right] = 1.0
    size = (output_size, output_size)
    image = F.interpolate(image, size=size, mode='bilinear', align_corners=False)
    image = image.round_().clamp_(0, 255).div_(255.0)  # OpenCV returns uint8 here
    mask = F.interpolate(1.0 - valid, size=size, mode='bilinear', align_corners=False)[:, 0] > 0
    mean = torch.tensor(IMAGENET_MEAN, device=frame.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=frame.device).view(1, 3, 1, 1)
    return ((image - mean) / std).to(dtype), mask, output_size / side
