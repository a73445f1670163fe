"""The neural forecaster's torch modules: a dilated causal TCN and a small transformer encoder.

Both read a window (batch, window, features) that ends at the forecast origin and
emit, per horizon, monotone return quantiles and a P(up) logit. Imported only from
inside functions (it imports torch at module level).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QuantileHead(nn.Module):
    """Maps a representation to (batch, H, Q) ordered quantiles and (batch, H) logits.

    Quantiles are built as q_0 = o_0, q_k = q_{k-1} + softplus(o_k), so they never cross.
    """

    def __init__(self, width: int, n_horizons: int, n_quantiles: int) -> None:
        super().__init__()
        self.h, self.q = n_horizons, n_quantiles
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, n_horizons * (n_quantiles + 1))

    def forward(self, rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.out(self.norm(rep)).view(-1, self.h, self.q + 1)
        steps = torch.cat([raw[..., :1], F.softplus(raw[..., 1 : self.q])], dim=-1)
        return torch.cumsum(steps, dim=-1), raw[..., self.q]


class CausalBlock(nn.Module):
    """Dilated causal conv -> GELU -> dropout, with a residual connection."""

    def __init__(self, width: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(width, width, kernel, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return x + self.drop(F.gelu(self.conv(F.pad(x, (self.pad, 0)))))


class TCN(nn.Module):
    """Temporal convolution net: 1x1 input projection, dilations 1, 2, 4, ..., last step out."""

    def __init__(
        self,
        n_features: int,
        n_horizons: int,
        n_quantiles: int,
        *,
        width: int = 32,
        layers: int = 4,
        kernel: int = 3,
        dropout: float = 0.1,
        **_: object,
    ) -> None:
        super().__init__()
        self.inp = nn.Conv1d(n_features, width, 1)
        self.blocks = nn.Sequential(*[CausalBlock(width, kernel, 2**i, dropout) for i in range(layers)])
        self.head = QuantileHead(width, n_horizons, n_quantiles)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # x: (B, T, F)
        h = self.blocks(self.inp(x.transpose(1, 2)))
        return self.head(h[:, :, -1])


class Encoder(nn.Module):
    """Transformer encoder over the window (pre-norm, learned positions), last token out."""

    def __init__(
        self,
        n_features: int,
        n_horizons: int,
        n_quantiles: int,
        *,
        width: int = 32,
        layers: int = 2,
        heads: int = 4,
        dropout: float = 0.1,
        window: int = 32,
        **_: object,
    ) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.pos = nn.Parameter(torch.zeros(1, window, width))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width,
            heads,
            dim_feedforward=2 * width,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = QuantileHead(width, n_horizons, n_quantiles)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(self.inp(x) + self.pos[:, -x.shape[1] :])
        return self.head(h[:, -1])


ARCHS: dict[str, type[nn.Module]] = {"tcn": TCN, "transformer": Encoder}


def pinball(q_pred: torch.Tensor, y: torch.Tensor, taus: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss over known targets; q_pred (B, H, Q), y and mask (B, H)."""
    diff = y.unsqueeze(-1) - q_pred
    loss = torch.maximum(taus * diff, (taus - 1.0) * diff).mean(-1)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def direction_loss(logit: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of P(up) against y > 0, over known targets."""
    bce = F.binary_cross_entropy_with_logits(logit, (y > 0).to(logit.dtype), reduction="none")
    return (bce * mask).sum() / mask.sum().clamp_min(1.0)
