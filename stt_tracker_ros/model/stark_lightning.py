"""STARK-Lightning: RepVGG body, one light encoder layer, RepVGG corner head; no score head.

The official edge model (researchmm/Stark, `lib/models/stark/stark_lightning_x_trt.py`,
experiment `stark_lightning_X_trt/baseline_rephead_4_lite_search5`). Parameter names and their
order equal the official training-time state dict, so `STARKLightningXtrt_ep0500.pth.tar` loads
strictly; `repvgg.fuse_repvgg` then gives the inference form the official tracker runs.
Same `encode` / `decode` / `search` contract as `Stark`, so trackers and exporters take either.
"""
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.backbone import Backbone
from stt_tracker_ros.model.lightning_head import RepCornerHead
from stt_tracker_ros.model.placement import PlacedModule
from stt_tracker_ros.model.repvgg import RepVGGBody
from stt_tracker_ros.model.stark import StarkOutput, Tokens
from stt_tracker_ros.model.transformer import Attention, padding_bias


class LearnedPositionEmbedding(nn.Module):
    """Absolute position of each cell of a size x size map: a learned column vector followed by
    a learned row vector (`col_embed`, `row_embed`: [size, dim / 2] each).

    It does not depend on the padding mask, unlike STARK-S/ST's sine encoding.
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.size = size
        self.row_embed = nn.Embedding(size, dim // 2)
        self.col_embed = nn.Embedding(size, dim // 2)
        nn.init.uniform_(self.row_embed.weight)   # official initialisation: U(0, 1)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self, batch: int) -> torch.Tensor:
        """[size * size, batch, dim] sequence-first; token index = row * size + col.

        `repeat` rather than `expand`: exported, expand brings a boolean Equal into the graph.
        """
        size = self.size
        columns = self.col_embed.weight[None].repeat(size, 1, 1)   # [row, col, D/2]
        rows = self.row_embed.weight[:, None].repeat(1, size, 1)    # [row, col, D/2]
        return torch.cat((columns, rows), dim=-1).flatten(0, 1)[:, None].repeat(1, batch, 1)


class LiteEncoderLayer(nn.Module):
    """One post-norm encoder layer whose queries are the search tokens only.

    Keys and values are all tokens (template then search); the residual adds to the query
    (search features plus their position), as in the official lite encoder.
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
        """query [Lq, B, C], key/value [Lk, B, C], bias [B, 1, 1, Lk] -> [Lq, B, C]."""
        x = self.norm1(query + self.dropout1(self.self_attn(query, key, value, bias)))
        ffn = self.linear2(self.dropout(torch.relu(self.linear1(x))))
        return self.norm2(x + self.dropout2(ffn))


class LiteTransformer(nn.Module):
    """Holds the single encoder layer under `encoder` (official key names)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.encoder = LiteEncoderLayer(dim, heads, ffn_dim, dropout)
        for p in self.parameters():   # official initialisation
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
        """See LiteEncoderLayer.forward."""
        return self.encoder(query, key, value, bias)


class StarkLightning(PlacedModule):
    """The STARK-Lightning network: `encode` the template once, then `search` each frame.

    Args:
        config: a ModelConfig with architecture 'lightning' (`model_config('lightning')`).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.architecture != 'lightning' or config.template_size == config.search_size:
            raise ValueError('StarkLightning needs a lightning config whose template and search '
                             'crops differ in size (the size picks the position embedding)')
        self.config = config
        dim = config.hidden_dim
        body = RepVGGBody(config.backbone_layers, config.backbone_width)
        # Registration order matches the official state dict.
        self.backbone = Backbone(body)
        self.transformer = LiteTransformer(dim, config.num_heads, config.ffn_dim, config.dropout)
        self.box_head = RepCornerHead(dim, config.head_channels, config.search_feat_size,
                                      config.stride)
        self.pos_emb_x = LearnedPositionEmbedding(config.search_feat_size, dim)
        self.pos_emb_z0 = LearnedPositionEmbedding(config.template_size // config.stride, dim)
        self.bottleneck = nn.Conv2d(body.out_channels, dim, 1)

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """Body, bottleneck and learned position embedding of one crop.

        Args:
            image: [B, 3, S, S] normalised RGB, S the template or the search size.
            mask: [B, S, S] bool (True on padding) or float (1.0 on padding).
        """
        side = image.shape[-1]
        if side not in (self.config.template_size, self.config.search_size):
            raise ValueError(f'crop side {side} is neither the template size '
                             f'{self.config.template_size} nor the search size '
                             f'{self.config.search_size}')
        embedding = self.pos_emb_x if side == self.config.search_size else self.pos_emb_z0
        feat = self.bottleneck(self.backbone(image.contiguous(memory_format=torch.channels_last)))
        # Nearest down-sampling: cell (i, j) takes pixel (16i, 16j), as the official code does.
        small = F.interpolate(mask[None].float(), size=feat.shape[-2:]).to(mask.dtype)[0]
        pos = embedding(image.shape[0]).to(feat.dtype)
        return Tokens(feat.flatten(2).permute(2, 0, 1), small.flatten(1), pos)

    def decode(self, templates: Sequence[Tokens], search: Tokens) -> StarkOutput:
        """Light encoder and corner head; keys and values are [templates..., search].

        Returns:
            StarkOutput with boxes [B, 4] (cx, cy, w, h) normalised to the search crop, logits
            None (no score head) and an empty `hs` (no decoder).
        """
        parts = [*templates, search]
        value = torch.cat([t.feat for t in parts], dim=0)                 # [L, B, C]
        key = value + torch.cat([t.pos for t in parts], dim=0)           # [L, B, C]
        mask = torch.cat([t.mask for t in parts], dim=1)                 # [B, L]
        query = search.feat + search.pos                                 # [HW, B, C]
        memory = self.transformer(query, key, value, padding_bias(mask, query.dtype))
        batch, size = memory.shape[1], self.config.search_feat_size
        features = memory.permute(1, 2, 0).reshape(batch, -1, size, size)   # [B, C, S, S]
        x1, y1, x2, y2 = self.box_head(features).unbind(1)
        boxes = torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=1)
        return StarkOutput(boxes, None, memory.new_empty(0))

    def search(self, templates: Sequence[Tokens], image: torch.Tensor,
               mask: torch.Tensor) -> StarkOutput:
        """The per-frame branch: encode the search crop, then decode with the cached template."""
        return self.decode(templates, self.encode(image, mask))

    def forward(self, templates: Sequence[tuple[torch.Tensor, torch.Tensor]],
                search: tuple[torch.Tensor, torch.Tensor]) -> StarkOutput:
        """Full forward for training: lists of (image, mask) for templates, one for search."""
        return self.decode([self.encode(*t) for t in templates], self.encode(*search))
