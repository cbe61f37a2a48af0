"""Positional encodings: where a token sits, written into its vector.

Attention is blind to order (permuting the tokens permutes its output), so a Transformer adds
to each token's embedding a vector that depends on its position. The sinusoidal one of
Vaswani et al. (2017) is a fixed function of the position ``p``; a learned one is a table.
"""

import math

import torch

__all__ = ["sinusoidal_positional_encoding", "add_positions"]


# --8<-- [start:sinusoidal]
def sinusoidal_positional_encoding(length, d_model, base=10000.0, *, device=None, dtype=None):
    """``(length, d_model)``: ``PE[p, 2i] = sin(p ω_i)``, ``PE[p, 2i+1] = cos(p ω_i)``,
    ``ω_i = base^(−2i / d_model)``: one frequency per pair of columns, from 1 down to nearly
    ``1 / base``. Computed in float64, then cast to ``dtype``.
    """
    if length < 0 or d_model <= 0:
        raise ValueError(
            f"sinusoidal_positional_encoding expects length ≥ 0 and d_model > 0, "
            f"got length={length}, d_model={d_model}"
        )
    position = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    pairs = torch.arange(0, d_model, 2, dtype=torch.float64)  # 2i = 0, 2, 4, ...
    frequency = torch.exp(-math.log(base) * pairs / d_model)  # ω_i
    angle = position * frequency  # (L, ⌈d/2⌉)
    encoding = torch.empty(length, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # an odd d_model has one sin more
    return encoding.to(device=device, dtype=dtype or torch.get_default_dtype())


# --8<-- [end:sinusoidal]


# --8<-- [start:add_positions]
def add_positions(input, table, batch_first=False, scale=None):
    """``input · scale + table[:L]`` for ``input (L, N, E)``, ``(N, L, E)`` with
    ``batch_first``, or unbatched ``(L, E)``; ``table (max_len, E)``. ``scale`` is ``√E`` for
    the embedding scale of Vaswani et al. (``None``: no scaling)."""
    if input.dim() not in (2, 3) or input.shape[-1] != table.shape[1]:
        raise ValueError(
            f"positional encoding expects input (L, N, {table.shape[1]}), (N, L, "
            f"{table.shape[1]}) with batch_first, or (L, {table.shape[1]}); "
            f"got {tuple(input.shape)}"
        )
    time = 1 if batch_first and input.dim() == 3 else 0
    length = input.shape[time]
    if length > table.shape[0]:
        raise ValueError(
            f"positional encoding has {table.shape[0]} positions (max_len), "
            f"got a sequence of length {length}"
        )
    positions = table[:length].to(input.dtype)
    if input.dim() == 3 and time == 0:
        positions = positions.unsqueeze(1)  # (L, 1, E) broadcasts over the batch
    return (input if scale is None else input * scale) + positions


# --8<-- [end:add_positions]
