"""Positional encodings: ``SinusoidalPositionalEncoding`` (fixed) and
``LearnedPositionalEncoding`` (a trained table). PyTorch has neither as a module; they are
checked against oracles (the formula by a float64 loop, and a shifted position as a rotation).

Both add the position's vector to ``input`` (optionally first scaled by ``√d_model``, as the
2017 paper does to its embeddings) and then apply dropout.
"""

import math

import torch

from byhand.nn import functional as F
from byhand.nn import init
from byhand.nn.dropout import Dropout

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding"]


# --8<-- [start:modules]
class SinusoidalPositionalEncoding(torch.nn.Module):
    """``dropout(input · √d_model + PE[:L])`` (scale with ``scale_embedding=True``) for
    ``input (L, N, d_model)``, ``(N, L, d_model)`` with ``batch_first``, or ``(L, d_model)``.

    ``PE`` is a fixed buffer, float64 unless ``dtype`` is given, and not saved in the
    state_dict (it is a function of its shape).
    """

    def __init__(
        self,
        d_model,
        max_len=5000,
        dropout=0.0,
        scale_embedding=False,
        batch_first=False,
        base=10000.0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.d_model, self.max_len, self.base = d_model, max_len, base
        self.scale_embedding, self.batch_first = scale_embedding, batch_first
        self.dropout = Dropout(dropout)
        # float64 unless a dtype is asked for: cast to the input's dtype when it is added, so
        # a float64 model gets every digit (a float32 table is only good to ~3e-8).
        table = F.sinusoidal_positional_encoding(
            max_len, d_model, base, device=device, dtype=dtype or torch.float64
        )
        self.register_buffer("pe", table, persistent=False)

    def forward(self, input):
        scale = math.sqrt(self.d_model) if self.scale_embedding else None
        return self.dropout(F.add_positions(input, self.pe, self.batch_first, scale))

    def extra_repr(self):
        return (
            f"{self.d_model}, max_len={self.max_len}, scale_embedding={self.scale_embedding}, "
            f"batch_first={self.batch_first}"
        )


class LearnedPositionalEncoding(torch.nn.Module):
    """``dropout(input [· √d_model] + weight[:L])`` with a trained ``weight (max_len,
    d_model)``, drawn from ``N(0, init_std²)``; it cannot reach positions beyond ``max_len``.

    Shapes: ``input`` ``(L, N, d_model)`` (``(N, L, d_model)`` with ``batch_first``); same out.
    """

    def __init__(
        self,
        d_model,
        max_len=512,
        dropout=0.0,
        scale_embedding=False,
        batch_first=False,
        init_std=0.02,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.d_model, self.max_len, self.init_std = d_model, max_len, init_std
        self.scale_embedding, self.batch_first = scale_embedding, batch_first
        self.dropout = Dropout(dropout)
        weight = torch.empty(max_len, d_model, device=device, dtype=dtype)
        self.weight = torch.nn.Parameter(weight)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, std=self.init_std)

    def forward(self, input):
        scale = math.sqrt(self.d_model) if self.scale_embedding else None
        return self.dropout(F.add_positions(input, self.weight, self.batch_first, scale))

    def extra_repr(self):
        return (
            f"{self.d_model}, max_len={self.max_len}, scale_embedding={self.scale_embedding}, "
            f"batch_first={self.batch_first}"
        )


# --8<-- [end:modules]
