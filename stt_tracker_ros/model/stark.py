"""STARK-S / STARK-ST: backbone + transformer + corner head (+ score head), built from a config.

Parameter names equal the official ones (researchmm/Stark), so official checkpoints load strictly.
"""
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.appearance_match import appearance_match
from stt_tracker_ros.model.backbone import ResNetBody, build_backbone
from stt_tracker_ros.model.efficientnet_lite import EfficientNetLiteBody
from stt_tracker_ros.model.heads import CornerHead, ScoreHead
from stt_tracker_ros.model.placement import PlacedModule
from stt_tracker_ros.model.position_encoding import sine_position_encoding
from stt_tracker_ros.model.target_correlation import correlation_channels, target_correlation
from stt_tracker_ros.model.transformer import Transformer


class Tokens(NamedTuple):
    """One image's features flattened for the transformer."""

    feat: torch.Tensor  # [HW, B, C] after the 1x1 bottleneck
    mask: torch.Tensor  # [B, HW] True (bool) or 1.0 (float) where the cell is padding
    pos: torch.Tensor   # [HW, B, C] sine position encoding


class StarkOutput(NamedTuple):
    """Outputs of the search branch."""

    boxes: torch.Tensor                  # [B, 4] (cx, cy, w, h) normalised to the search crop
    logits: torch.Tensor | None          # [B] target-present logit (ST), None for STARK-S
    hs: torch.Tensor                     # [B, C] decoder output


class Stark(PlacedModule):
    """The STARK network: `encode` a template once, then `search` each frame."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        dim = config.hidden_dim
        # Registration order matches the official state dict.
        self.backbone = build_backbone(build_body(config))
        self.transformer = Transformer(dim, config.num_heads, config.encoder_layers,
                                       config.decoder_layers, config.ffn_dim, config.dropout)
        correlation = (correlation_channels(config.template_size, config.stride,
                                            config.num_templates)
                       if config.box_correlation else 0)
        self.box_head = CornerHead(dim + correlation, config.head_channels,
                                   config.search_feat_size, config.stride)
        self.query_embed = nn.Embedding(1, dim)
        self.bottleneck = nn.Conv2d(self.backbone[0].body.out_channels, dim, 1)
        match = dim * config.num_templates if config.score_input == 'match' else 0
        self.cls_head = ScoreHead(dim, inputs=dim + match) if config.score_head else None

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Backbone, bottleneck and position encoding of one crop.

        Args:
            image: [B, 3, H, W] normalised RGB (ImageNet mean/std), the model's dtype.
            mask: [B, H, W] bool, True on padded pixels; or float, 1.0 on padded pixels (for
                exported graphs, which must not carry booleans).
        """
        # Channels-last convolutions are faster on CPUs (oneDNN) and GPUs (tensor cores).
        return self.tokens(self.backbone[0](image.contiguous(memory_format=torch.channels_last)),
                           mask)

    def tokens(self, feat: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Bottleneck and position encoding of body features [B, C, h, w] (as `encode`, for
        features computed earlier, e.g. cached ones of a frozen body). `mask` is the crop's
        [B, H, W] padding mask, or already [B, h, w]."""
        # Nearest down-sampling: cell (i, j) takes pixel (16i, 16j), as the official code does.
        small = F.interpolate(mask[None].float(), size=feat.shape[-2:]).to(mask.dtype)[0]
        pos = sine_position_encoding(small, self.config.hidden_dim).to(feat.dtype)
        feat = self.bottleneck(feat)
        return Tokens(feat.flatten(2).permute(2, 0, 1), small.flatten(1),
                      pos.flatten(2).permute(2, 0, 1))

    def decode(self, templates: Sequence[Tokens], search: Tokens) -> StarkOutput:
        """Transformer and heads on the concatenated tokens; the search tokens come last."""
        parts = [*templates, search]
        feat = torch.cat([t.feat for t in parts], dim=0)   # [L, B, C]
        mask = torch.cat([t.mask for t in parts], dim=1)   # [B, L]
        pos = torch.cat([t.pos for t in parts], dim=0)     # [L, B, C]
        memory, hs = self.transformer(feat, mask, pos, self.query_embed.weight)
        hs = hs[0]                                         # [B, C] (one query)
        search_len = search.feat.shape[0]
        template_feat = feat[:-search_len]                 # [T * hw, B, C], before the encoder
        tokens = memory[-search_len:].permute(1, 0, 2)     # [B, HW, C]
        # Re-weight each search token by its raw dot product with the decoder output.
        similarity = torch.bmm(tokens, hs.unsqueeze(2))    # [B, HW, 1]
        fused = (tokens * similarity).permute(0, 2, 1)     # [B, C, HW]
        size = self.config.search_feat_size
        fused = fused.reshape(fused.shape[0], -1, size, size)
        if self.config.box_correlation:
            correlation = target_correlation(search.feat, template_feat,
                                             self.config.num_templates)
            fused = torch.cat((fused, correlation.to(fused.dtype)), dim=1)
        corners = self.box_head(fused)
        x1, y1, x2, y2 = corners.unbind(1)
        boxes = torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=1)
        return StarkOutput(boxes, self._score(hs, template_feat, search, boxes), hs)

    def _score(self, hs: torch.Tensor, template_feat: torch.Tensor, search: Tokens,
               boxes: torch.Tensor) -> torch.Tensor | None:
        if self.cls_head is None:
            return None
        if self.config.score_input == 'match':
            match = appearance_match(search.feat, template_feat, self.config.num_templates,
                                     boxes)
            hs = torch.cat((hs, match.to(hs.dtype)), dim=1)
        return self.cls_head(hs)[:, 0]

    def search(self, templates: Sequence[Tokens], image: torch.Tensor,
               mask: torch.Tensor) -> StarkOutput:
        """The per-frame branch: encode the search crop, then decode with the cached templates."""
        return self.decode(templates, self.encode(image, mask))

    def forward(self, templates: Sequence[tuple[torch.Tensor, torch.Tensor]],
                search: tuple[torch.Tensor, torch.Tensor], features: bool = False
                ) -> StarkOutput:
        """Full forward for training: lists of (image, mask) for templates, one for search;
        with `features`, (body features, mask) pairs instead of images (a frozen body's)."""
        prepare = self.tokens if features else self.encode
        return self.decode([prepare(*t) for t in templates], prepare(*search))


def build_body(config: ModelConfig) -> nn.Module:
    """The image body `config.backbone` names: ResNet (official variants) or EfficientNet-Lite0."""
    if config.backbone == 'efficientnet_lite0':
        return EfficientNetLiteBody()
    return ResNetBody(config.backbone_layers, config.backbone_width)


def build_stark(config: ModelConfig) -> nn.Module:
    """Build an untrained STARK network for `config` (random init as in the official code):
    a `Stark`, or a `StarkLightning` for the 'lightning' architecture (same interface)."""
    if config.architecture == 'lightning':
        # Imported here: stark_lightning builds on this module's Tokens and StarkOutput.
        from stt_tracker_ros.model.stark_lightning import StarkLightning
        return StarkLightning(config)
    return Stark(config)
