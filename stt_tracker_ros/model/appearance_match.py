"""How well the predicted box looks like the target of each template.

STARK-ST's score head sees only the decoder's single output vector. With a small transformer
trained on few samples, that vector says little about whether the box holds the target (the
default model's head scored below chance, docs/results/2026-12-07-lite0). The default model's
score head (ModelConfig.score_input = 'match') also gets, for each template, the element-wise
product of two unit vectors: the search tokens averaged over the predicted box, and the template
tokens averaged over the target's place in the template crop. Their sum is the cosine
similarity of the two appearances; the head learns which channels to trust.
"""
import math

import torch
import torch.nn.functional as F

# The template crop is centred on the target and `template_factor` (2) times its size: the
# target covers the middle half of the crop (exactly for a square target), the box (cx, cy, w, h)
# whose every coordinate is this.
TEMPLATE_TARGET = 0.5


def box_cell_weights(boxes: torch.Tensor, cells: int) -> torch.Tensor:
    """[B, cells * cells] weights of the cells of a square feature grid (row-major), in
    proportion to the area of each cell that a box covers, summing to 1 (to 0 for a box
    outside the grid).

    Args:
        boxes: [B, 4] (cx, cy, w, h), normalised to the crop.
        cells: the grid's side.
    """
    edges = torch.arange(cells + 1, device=boxes.device, dtype=boxes.dtype) / cells
    cx, cy, w, h = boxes.unbind(1)

    def overlap(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:   # [B, cells]
        return (torch.minimum(high[:, None], edges[None, 1:])
                - torch.maximum(low[:, None], edges[None, :-1])).clamp(min=0)

    weights = (overlap(cy - h / 2, cy + h / 2)[:, :, None]
               * overlap(cx - w / 2, cx + w / 2)[:, None, :]).flatten(1)
    return weights / weights.sum(1, keepdim=True).clamp(min=1e-6)


def _pooled(tokens: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Unit-length weighted mean [B, C] of tokens [L, B, C] under weights [B, L]."""
    mean = torch.bmm(weights[:, None].to(tokens.dtype), tokens.transpose(0, 1))[:, 0]
    return F.normalize(mean, dim=1, eps=1e-6)


def appearance_match(search: torch.Tensor, templates: torch.Tensor, count: int,
                     boxes: torch.Tensor) -> torch.Tensor:
    """[B, T * C] match of the box's appearance with each template's target.

    Args:
        search: [HW, B, C] search tokens (before the encoder: appearance only).
        templates: [T * hw, B, C] the tokens of `count` (T) templates, one after the other
            (as the transformer and the exported search graph take them), likewise.
        count: T.
        boxes: [B, 4] predicted boxes (cx, cy, w, h) normalised to the search crop; no
            gradient flows into them.

    Returns:
        Per template, C products of the two unit vectors, times C (so that an element is
        about 1 where the appearances agree).
    """
    channels = search.shape[2]
    box = _pooled(search, box_cell_weights(boxes.detach().float(), math.isqrt(search.shape[0])))
    # A fill on the boxes' device, not a tensor built on the host: nothing to upload per frame
    # (which a CUDA graph's capture would refuse).
    target = boxes.new_full((len(boxes), 4), TEMPLATE_TARGET, dtype=torch.float32)
    parts = [box * _pooled(t, box_cell_weights(target, math.isqrt(t.shape[0])))
             for t in templates.chunk(count)]
    return torch.cat(parts, dim=1) * channels
