"""Where the search crop looks like each part of the target: a prior for the corner head.

STARK's corner head sees the encoder's search tokens re-weighted by the decoder output; the
transformer has to learn from data how to match the search region against the template. A
small transformer trained on a CPU's worth of samples matches poorly (the default model's crop
IoU stayed under 0.5). With ModelConfig.box_correlation the corner head also sees, for every
search cell, its cosine similarity with each cell of each template's target (the middle half of
the template crop, where the target sits): a pixel-wise correlation, as in Siamese trackers,
whose channel order keeps the target's layout (top-left part first), so the head can read the
target's extent from it as well as its place.
"""
import math

import torch
import torch.nn.functional as F


def target_span(side: int) -> slice:
    """Rows (and columns) of the middle half of a square grid of `side` cells, side // 4 to
    side - side // 4: where the target sits in a template crop."""
    return slice(side // 4, side - side // 4)


def correlation_channels(template_size: int, stride: int, num_templates: int) -> int:
    """How many channels `target_correlation` adds: the target cells of all templates."""
    span = target_span(template_size // stride)
    return (span.stop - span.start) ** 2 * num_templates


def target_correlation(search: torch.Tensor, templates: torch.Tensor, count: int
                       ) -> torch.Tensor:
    """[B, T * k, S, S] cosine similarity of every search cell with each of the k target cells
    of each of the T templates.

    Args:
        search: [S * S, B, C] search tokens (before the encoder: appearance only).
        templates: [T * hw, B, C] the tokens of `count` (T) square templates, one after the
            other (as the transformer and the exported search graph take them), likewise.
        count: T.
    """
    side = math.isqrt(search.shape[0])
    search_unit = F.normalize(search.permute(1, 2, 0), dim=1, eps=1e-6)     # [B, C, S*S]
    parts = []
    for template in templates.chunk(count):
        cells = math.isqrt(template.shape[0])
        span = target_span(cells)
        # A view of the target's cells, row-major: no index tensor to build or upload per frame
        # (which a CUDA graph's capture would refuse).
        grid = template.reshape(cells, cells, *template.shape[1:])[span, span]
        target = F.normalize(grid.flatten(0, 1).transpose(0, 1), dim=2, eps=1e-6)  # [B, k, C]
        parts.append(torch.bmm(target, search_unit))                              # [B, k, S*S]
    correlation = torch.cat(parts, dim=1)
    return correlation.reshape(correlation.shape[0], correlation.shape[1], side, side)
