"""Post-norm encoder-decoder transformer with a single learned query (STARK's DETR variant).

All sequences are sequence-first: [L, B, C]. Padding enters as an additive attention bias
[B, 1, 1, L] (0 on valid tokens, a large negative value on padding), built once per forward.
"""
import torch
import torch.nn.functional as F
from torch import nn


def padding_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, L] padding mask (True / 1.0 on padding) -> [B, 1, 1, L] additive attention bias.

    A finite -1e4 rather than -inf keeps exported graphs free of infinities and booleans; after
    softmax it is exactly zero in every precision we use.
    """
    return (mask.to(dtype) * -1e4)[:, None, None, :]


class Attention(nn.Module):
    """Multi-head attention with the parameter names of torch.nn.MultiheadAttention.

    Built on scaled_dot_product_attention, which picks fused kernels where the device has them
    and exports to ONNX as plain matrix products.
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """[L, B, C] projections -> [B, heads, L, C / heads] (a view)."""
        length, batch, dim = x.shape
        return x.view(length, batch, self.heads, dim // self.heads).permute(1, 2, 0, 3)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """query [Lq, B, C], key/value [Lk, B, C], bias [B, 1, 1, Lk] -> [Lq, B, C].

        Self-attention passes the same tensor as query and key; both projections then come
        from one matrix product.
        """
        length, batch, dim = query.shape
        if query is key:
            q, k = F.linear(query, self.in_proj_weight[:2 * dim],
                            self.in_proj_bias[:2 * dim]).chunk(2, dim=-1)
        else:
            q = F.linear(query, self.in_proj_weight[:dim], self.in_proj_bias[:dim])
            k = F.linear(key, self.in_proj_weight[dim:2 * dim], self.in_proj_bias[dim:2 * dim])
        v = F.linear(value, self.in_proj_weight[2 * dim:], self.in_proj_bias[2 * dim:])
        out = F.scaled_dot_product_attention(
            self._heads(q), self._heads(k), self._heads(v), attn_mask=bias,
            dropout_p=self.dropout if self.training else 0.0)  # [B, H, Lq, D]
        out = out.permute(2, 0, 1, 3).reshape(length, batch, dim)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Self-attention and FFN, each followed by residual add and LayerNorm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, bias: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """src and pos [L, B, C], padding bias [B, 1, 1, L] -> [L, B, C]."""
        q = k = src + pos
        attended = self.self_attn(q, k, src, bias)
        src = self.norm1(src + self.dropout1(attended))
        ffn = self.linear2(self.dropout(torch.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(ffn))


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the encoder memory, FFN; post-norm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attn = Attention(dim, heads, dropout)
        self.multihead_attn = Attention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor,
                pos: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        """tgt and query_pos [Q, B, C], memory and pos [L, B, C], bias [B, 1, 1, L] ->
        [Q, B, C]."""
        q = k = tgt + query_pos
        attended = self.self_attn(q, k, tgt)
        tgt = self.norm1(tgt + self.dropout1(attended))
        attended = self.multihead_attn(tgt + query_pos, memory + pos, memory, bias)
        tgt = self.norm2(tgt + self.dropout2(attended))
        ffn = self.linear2(self.dropout(torch.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(ffn))


class Encoder(nn.Module):
    """A stack of encoder layers (no final norm in the post-norm variant)."""

    def __init__(self, layers: list[EncoderLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, src: torch.Tensor, bias: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Each layer in turn; shapes as `EncoderLayer.forward`."""
        for layer in self.layers:
            src = layer(src, bias, pos)
        return src


class Decoder(nn.Module):
    """A stack of decoder layers followed by a final LayerNorm."""

    def __init__(self, layers: list[DecoderLayer], dim: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor,
                pos: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        """Each layer in turn, then the norm; shapes as `DecoderLayer.forward`."""
        for layer in self.layers:
            tgt = layer(tgt, memory, bias, pos, query_pos)
        return self.norm(tgt)


class Transformer(nn.Module):
    """Encoder over [templates..., search] tokens, decoder over the learned query."""

    def __init__(self, dim: int, heads: int, encoder_layers: int, decoder_layers: int,
                 ffn_dim: int, dropout: float):
        super().__init__()
        self.encoder = Encoder([EncoderLayer(dim, heads, ffn_dim, dropout)
                                for _ in range(encoder_layers)])
        self.decoder = Decoder([DecoderLayer(dim, heads, ffn_dim, dropout)
                                for _ in range(decoder_layers)], dim)
        for p in self.parameters():  # official initialisation
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, feat: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor,
                query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run encoder and decoder.

        Args:
            feat: [L, B, C] tokens; pos: [L, B, C] their position encoding; mask: [B, L],
                True (bool) or 1.0 (float) on padding.
            query: [Q, C] learned query embedding.

        Returns:
            (memory [L, B, C], hs [Q, B, C]).
        """
        bias = padding_bias(mask, feat.dtype)
        memory = self.encoder(feat, bias, pos)
        query_pos = query.unsqueeze(1).repeat(1, feat.shape[1], 1)  # [Q, B, C]
        hs = self.decoder(torch.zeros_like(query_pos), memory, bias, pos, query_pos)
        return memory, hs
