"""Sine position encoding computed from the padding mask (DETR style, normalised to 2*pi)."""
import math

import torch


def sine_position_encoding(mask: torch.Tensor, channels: int = 256,
                           temperature: float = 10000.0) -> torch.Tensor:
    """Encode each valid cell by its normalised row and column among the valid cells.

    Args:
        mask: [B, h, w], True (bool) or 1.0 (float) on padding.
        channels: output channels; half encode y, half encode x.
        temperature: wavelength base.

    Returns:
        [B, channels, h, w] float32: for each axis, sin and cos interleaved by frequency,
        y channels first. Padded crops shift the encoding, as in the official model.
    """
    feats = channels // 2
    valid = 1.0 - mask.to(torch.float32)
    y = valid.cumsum(1)
    x = valid.cumsum(2)
    eps = 1e-6
    y = y / (y[:, -1:, :] + eps) * (2 * math.pi)
    x = x / (x[:, :, -1:] + eps) * (2 * math.pi)
    k = torch.arange(feats, dtype=torch.float32, device=mask.device)
    inv_freq = temperature ** (2 * torch.div(k, 2, rounding_mode='floor') / feats)
    pos_x = x[..., None] / inv_freq  # [B, h, w, feats]
    pos_y = y[..., None] / inv_freq
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
