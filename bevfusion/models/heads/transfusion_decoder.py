"""TransFusion's building blocks: conv-norm-ReLU, the learned position embedding, the decoder layer, the FFN heads.

Module and parameter names follow MIT HAN Lab's bevfusion (`conv`/`bn`, `self_attn`, `multihead_attn`,
`linear1`, `norm1`, `self_posembed.position_embedding_head`, ...), so a state dict of theirs maps key for key.
Queries travel channels-first `(B, C, P)` as theirs do; positions are `(B, P, 2)` in BEV cell units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class ConvBlock(nn.Module):
    """Convolution without bias, batch norm, ReLU (mmcv's `ConvModule` layout), for 1D or 2D maps."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dims: int) -> None:
        super().__init__()
        conv, norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.conv = conv(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = norm(out_channels)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class PositionEmbeddingLearned(nn.Module):
    """`(B, P, 2)` positions -> `(B, C, P)` embeddings: conv1d 2->C, BN, ReLU, conv1d C->C."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.position_embedding_head = nn.Sequential(
            nn.Conv1d(in_channels, channels, kernel_size=1),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
            nn.Conv1d(channels, channels, kernel_size=1),
        )

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.position_embedding_head(positions.transpose(1, 2))


class TransformerDecoderLayer(nn.Module):
    """Post-norm decoder layer: self-attention over queries, cross-attention to the BEV, then an FFN.

    As in TransFusion, a position embedding is added to the queries (and the values) of both attentions,
    and to the BEV keys and values of the cross-attention.
    """

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, dropout: float, activation: str) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"TransformerDecoderLayer: activation must be one of {sorted(ACTIVATIONS)}")
        self.self_attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(channels, ffn_channels)
        self.linear2 = nn.Linear(ffn_channels, channels)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(channels) for _ in range(3))
        self.dropout, self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(4))
        self.activation = ACTIVATIONS[activation]
        self.self_posembed = PositionEmbeddingLearned(2, channels)
        self.cross_posembed = PositionEmbeddingLearned(2, channels)

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, query_pos: torch.Tensor, key_pos: torch.Tensor
    ) -> torch.Tensor:
        """`query` `(B, C, P)`, `key` `(B, C, N)`, `query_pos` `(B, P, 2)`, `key_pos` `(1 or B, N, 2)` -> `(B, C, P)`.

        A `key_pos` shared by the batch is embedded once and broadcast, which gives the same result as
        embedding a copy per sample (batch-norm statistics of identical copies are those of one).
        """
        query_embed = self.self_posembed(query_pos).transpose(1, 2)
        key_embed = self.cross_posembed(key_pos).transpose(1, 2)
        query, key = query.transpose(1, 2), key.transpose(1, 2)

        attended = query + query_embed
        query = self.norm1(query + self.dropout1(self.self_attn(attended, attended, attended, need_weights=False)[0]))
        memory = key + key_embed
        attended = self.multihead_attn(query + query_embed, memory, memory, need_weights=False)[0]
        query = self.norm2(query + self.dropout2(attended))
        update = self.linear2(self.dropout(self.activation(self.linear1(query))))
        query = self.norm3(query + self.dropout3(update))
        return query.transpose(1, 2)


class PredictionHeads(nn.Module):
    """One small 1x1-conv FFN per output: `num_conv - 1` ConvBlocks of `head_channels`, then a plain conv.

    `heads` maps a name to `(out_channels, num_conv)`; the output is a dict of `(B, out_channels, P)`.
    """

    def __init__(self, in_channels: int, heads: dict[str, tuple[int, int]], head_channels: int) -> None:
        super().__init__()
        self.heads = dict(heads)
        for name, (out_channels, num_conv) in self.heads.items():
            if num_conv < 1:
                raise ValueError(f"PredictionHeads: head {name!r} needs num_conv >= 1, got {num_conv}")
            layers, channels = [], in_channels
            for _ in range(num_conv - 1):
                layers.append(ConvBlock(channels, head_channels, kernel_size=1, dims=1))
                channels = head_channels
            layers.append(nn.Conv1d(channels, out_channels, kernel_size=1))
            self.add_module(name, nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name)(x) for name in self.heads}
