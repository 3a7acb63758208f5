"""The reference crop computed with torch on the frame's device (GPU path; also runs on CPU).

Same window, padding and mask rules as `crop.crop_and_resize`; the bilinear resize follows
torch's (half-pixel centres, no antialiasing, like cv2.INTER_LINEAR). OpenCV resizes uint8 images
with 11-bit fixed-point weights, so pixels may differ by one grey level (1/255 before
normalisation); the masks agree. All crops of a frame come from one gather, whatever their number.
"""
import numpy as np
import torch

from stt_tracker_ros.tracking.crop import Window, normalise, padded_window


def frame_to_device(frame, device: torch.device | str) -> torch.Tensor:
    """Copy an HxWx3 uint8 numpy frame to `device` once (pinned, asynchronous on CUDA)."""
    tensor = torch.from_numpy(frame)
    if torch.device(device).type == 'cuda':
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


class FrameUpload:
    """The device copy of the frame being processed, made once however many crops use it.

    Trackers of several targets share one, so a frame goes to the GPU once, not once per target.
    It also carries the crops' sampling tables to the device through a reused pinned buffer.
    """

    def __init__(self, device: torch.device | str):
        self.device = device
        self._frame = None
        self._tensor: torch.Tensor | None = None
        self._staging: torch.Tensor | None = None

    def __call__(self, frame) -> torch.Tensor:
        """The device tensor of `frame` (numpy), uploading it if it is a new frame."""
        if frame is not self._frame:
            self._frame, self._tensor = frame, frame_to_device(frame, self.device)
        return self._tensor

    def table(self, values: np.ndarray) -> torch.Tensor:
        """A small float32 array on the device, copied asynchronously on CUDA.

        The pinned buffer is reused: the previous copy has finished by the time of the next
        frame (its box was read back, which waits for the device).
        """
        host = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        if torch.device(self.device).type != 'cuda':
            return host.to(self.device)
        if self._staging is None or self._staging.numel() < host.numel():
            self._staging = torch.empty(host.numel(), dtype=torch.float32, pin_memory=True)
        staged = self._staging[:host.numel()].view(host.shape)
        staged.copy_(host)
        return staged.to(self.device, non_blocking=True)


def _sampling_tables(windows: list[Window], size: int, height: int, width: int) -> np.ndarray:
    """Where each output pixel of each crop samples the frame, for all crops at once.

    Each window covers frame rows y1 .. y1 + side - 1 and columns x1 .. x1 + side - 1, of which
    the outer `top`/`bottom` rows and `left`/`right` columns are zero padding. The arithmetic is
    torch's bilinear resize (align_corners=False) in float32, done for every axis of every window
    in one set of array operations (a loop per window would cost more than the crop on a GPU).

    Returns:
        [N, size, 10] float32: per output row (first five) and column (last five), two frame
        indices (clamped into the frame), their two weights (zero on padding), and 1.0 where a
        tap with weight reaches padding.
    """
    # One axis per row: for each window its vertical axis, then its horizontal one.
    axes = np.array([[(w.y1, w.side, w.top, w.bottom, height),
                      (w.x1, w.side, w.left, w.right, width)] for w in windows],
                    dtype=np.int64).reshape(-1, 5, 1)
    origin, side, pad_before, pad_after, limit = (axes[:, index] for index in range(5))
    scale = side.astype(np.float32) / np.float32(size)
    centres = (np.arange(size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    source = np.maximum(centres, np.float32(0.0))                       # [A, S]
    first = np.minimum(source.astype(np.int64), side - 1)
    taps = np.stack([first, first + (first < side - 1)], axis=2)       # [A, S, 2]
    second = source - first.astype(np.float32)
    weights = np.stack([np.float32(1.0) - second, second], axis=2)
    padding = (taps < pad_before[..., None]) | (taps >= (side - pad_after)[..., None])
    reaches_padding = ((weights > 0) & padding).any(axis=2, keepdims=True)
    inside = np.minimum(np.maximum(taps + origin[..., None], 0), limit[..., None] - 1)
    tables = np.concatenate([inside, np.where(padding, 0.0, weights), reaches_padding], axis=2)
    return tables.astype(np.float32).reshape(len(windows), 2, size, 5).transpose(0, 2, 1, 3) \
        .reshape(len(windows), size, 10)


def crop_batch_on_device(frame: torch.Tensor, boxes, factor: float, output_size: int,
                         dtype: torch.dtype = torch.float32, upload: FrameUpload | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Crop, pad, resize and normalise one square per box, all in one pass on the frame's device.

    The sampling tables are computed on the host and sent in one small copy; the pixels are
    gathered from the frame by a fixed number of kernels, however many boxes there are.

    Args:
        frame: [H, W, 3] uint8 RGB tensor.
        boxes: boxes (x, y, w, h pixels) the crops are centred on.
        factor: crop side relative to sqrt(w * h).
        output_size: side of the outputs.
        dtype: dtype of the returned images.
        upload: carries the tables (a plain copy when None).

    Returns:
        ([N, 3, S, S] normalised images (channels-last), [N, S, S] bool padding masks, resize
        factors).
    """
    height, width = frame.shape[:2]
    windows = [padded_window(box, factor, height, width) for box in boxes]
    tables = (upload or FrameUpload(frame.device)).table(
        _sampling_tables(windows, output_size, height, width))   # [N, S, 10]
    rows = tables[:, :, None, 0:2, None].long()                   # [N, S, 1, 2, 1]
    columns = tables[:, None, :, None, 5:7].long()                # [N, 1, S, 1, 2]
    weights = tables[:, :, None, 2:4, None] * tables[:, None, :, None, 7:9]   # [N, S, S, 2, 2]
    corners = frame[rows, columns].float()                        # [N, S, S, 2, 2, 3]
    grey = (corners * weights[..., None]).sum(dim=(3, 4)).round_().clamp_(0, 255)  # as OpenCV
    image = normalise(grey.permute(0, 3, 1, 2).div_(255.0)).to(dtype)
    mask = (tables[:, :, None, 4] > 0) | (tables[:, None, :, 9] > 0)
    return image, mask, [output_size / w.side for w in windows]
