"""Post-norm encoder-decoder transformer with a single learned query (STARK's DETR variant).

All sequences are sequence-first: [L, B, C]. Masks are [B, L] bool, True on padding.
"""
import torch
from torch import nn


class EncoderLayer(nn.Module):
    """Self-attention and FFN, each followed by residual add and LayerNorm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = k = src + pos
        attended = self.self_attn(q, k, src, key_padding_mask=mask, need_weights=False)[0]
        src = self.norm1(src + self.dropout1(attended))
        ffn = self.linear2(self.dropout(torch.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(ffn))


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the encoder memory, FFN; post-norm."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                pos: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        q = k = tgt + query_pos
        attended = self.self_attn(q, k, tgt, need_weights=False)[0]
        tgt = self.norm1(tgt + self.dropout1(attended))
        attended = self.multihead_attn(tgt + query_pos, memory + pos, memory,
                                       key_padding_mask=mask, need_weights=False)[0]
        tgt = self.norm2(tgt + self.dropout2(attended))
        ffn = self.linear2(self.dropout(torch.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(ffn))


class Encoder(nn.Module):
    """A stack of encoder layers (no final norm in the post-norm variant)."""

    def __init__(self, layers: list[EncoderLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, src: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, mask, pos)
        return src


class Decoder(nn.Module):
    """A stack of decoder layers followed by a final LayerNorm."""

    def __init__(self, layers: list[DecoderLayer], dim: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                pos: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            tgt = layer(tgt, memory, mask, pos, query_pos)
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
            feat: [L, B, C] tokens; pos: [L, B, C] their position encoding; mask: [B, L].
            query: [Q, C] learned query embedding.

        Returns:
            (memory [L, B, C], hs [Q, B, C]).
        """
        memory = self.encoder(feat, mask, pos)
        query_pos = query.unsqueeze(1).expand(-1, feat.shape[1], -1)  # [Q, B, C]
        hs = self.decoder(torch.zeros_like(query_pos), memory, mask, pos, query_pos)
        return memory, hs
