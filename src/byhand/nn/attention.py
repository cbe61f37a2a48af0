"""Attention modules: ``MultiheadAttention`` (a drop-in for ``torch.nn``'s), and two without a
PyTorch twin: ``RelativePositionAttention`` and ``LocalAttention``."""

import torch

from byhand.nn import functional as F
from byhand.nn import init
from byhand.nn.linear import Linear

__all__ = ["MultiheadAttention", "RelativePositionAttention", "LocalAttention"]


# --8<-- [start:mha]
class MultiheadAttention(torch.nn.Module):
    """``num_heads`` attentions over ``embed_dim / num_heads`` slices, merged and projected.

    Parameters as PyTorch's: ``in_proj_weight (3E, E)`` and ``in_proj_bias (3E,)``, or
    ``q_proj_weight``, ``k_proj_weight (E, kdim)``, ``v_proj_weight (E, vdim)`` when ``kdim`` or
    ``vdim`` differ from ``E``; ``out_proj`` a ``Linear(E, E)``; ``bias_k``,
    ``bias_v (1, 1, E)`` with ``add_bias_kv``. Forward: ``(query, key, value)`` of
    ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``; returns
    ``(output, weights)``.
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads}"
            )
        if embed_dim % num_heads:  # PyTorch asserts this: the same class
            raise AssertionError(
                f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                f"num_heads={num_heads} (embed_dim % num_heads = {embed_dim % num_heads})"
            )
        factory = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = torch.nn.Parameter(
                torch.empty(3 * embed_dim, embed_dim, **factory)
            )
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = torch.nn.Parameter(
                torch.empty(embed_dim, embed_dim, **factory)
            )
            self.k_proj_weight = torch.nn.Parameter(
                torch.empty(embed_dim, self.kdim, **factory)
            )
            self.v_proj_weight = torch.nn.Parameter(
                torch.empty(embed_dim, self.vdim, **factory)
            )
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = torch.nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = torch.nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
            self.bias_v = torch.nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        # out_proj drew its Linear init above; then, as PyTorch: Xavier for the projections,
        # zero biases, Xavier-normal for the extra key/value.
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        batched = query.dim() == 3
        if self.batch_first and batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        output, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            output = output.transpose(0, 1)
        return output, weights


# --8<-- [end:mha]


# --8<-- [start:relative]
class RelativePositionAttention(MultiheadAttention):
    """Multi-head attention plus a learned bias on the logits that depends only on the relative
    distance ``j - i`` between key ``j`` and query ``i`` (Shaw et al., 2018; T5).

    ``relative_attention_bias (num_buckets, num_heads)``: one scalar per distance bucket and
    head, added to every head's scores, ``S_hij = q_i·k_j / √d + bias[bucket(j - i), h]``.
    Buckets from :func:`relative_position_bucket`: ``clipped=True`` gives one bucket per
    distance up to ``±max_distance``; otherwise T5's log-spaced buckets. With a zero table this
    is ``MultiheadAttention`` exactly (same parameter names for everything else).

    Shapes: ``query`` ``(N, L, E)``, ``key``/``value`` ``(N, S, E)`` (``batch_first``); returns
    ``(N, L, E)`` and the weights ``(N, L, S)``.
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        batch_first=False,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        clipped=False,
        device=None,
        dtype=None,
    ):
        super().__init__(
            embed_dim,
            num_heads,
            dropout,
            bias,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )
        if clipped:
            num_buckets = 2 * max_distance + 1 if bidirectional else max_distance + 1
        elif num_buckets < (4 if bidirectional else 2) or max_distance < num_buckets // 2:
            raise ValueError(
                f"log-spaced buckets need num_buckets >= {4 if bidirectional else 2} and "
                f"max_distance >= the exact buckets, got {num_buckets}, {max_distance}"
            )
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bidirectional, self.clipped = bidirectional, clipped
        self.relative_attention_bias = torch.nn.Parameter(
            torch.empty(num_buckets, num_heads, device=device, dtype=dtype)
        )
        init.normal_(self.relative_attention_bias, std=0.5)

    def position_bias(self, query_length, key_length):
        """``(num_heads, L, S)``: the learned bias for every query/key pair."""
        device = self.relative_attention_bias.device
        queries = torch.arange(query_length, device=device)[:, None]
        distance = torch.arange(key_length, device=device)[None, :] - queries
        buckets = F.relative_position_bucket(
            distance, self.bidirectional, self.num_buckets, self.max_distance, self.clipped
        )
        return self.relative_attention_bias[buckets].permute(2, 0, 1)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        batched = query.dim() == 3
        time = 1 if self.batch_first and batched else 0
        bias = self.position_bias(query.shape[time], key.shape[time]).to(query.dtype)
        if attn_mask is not None:  # fold the caller's mask (bool True = ignore) into the bias
            if attn_mask.dtype == torch.bool:
                attn_mask = torch.zeros_like(attn_mask, dtype=query.dtype).masked_fill(
                    attn_mask, float("-inf")
                )
            if attn_mask.dim() == 3:  # (N·H, L, S) -> (N, H, L, S)
                attn_mask = attn_mask.view(-1, self.num_heads, *attn_mask.shape[-2:])
            bias = bias + attn_mask
        elif is_causal:
            raise ValueError("is_causal=True needs attn_mask as well (PyTorch's convention)")
        if batched:  # (H, L, S) -> (N·H, L, S), batch-major like the heads
            batch = query.shape[1 - time]
            bias = bias.expand(batch, self.num_heads, -1, -1).reshape(-1, *bias.shape[-2:])
        else:
            bias = bias.reshape(self.num_heads, *bias.shape[-2:])
        return super().forward(
            query, key, value, key_padding_mask, need_weights, bias, average_attn_weights
        )


# --8<-- [end:relative]


# --8<-- [start:local]
class LocalAttention(MultiheadAttention):
    """Multi-head self-attention in which each position sees only positions ``±window_size``
    away (``is_causal``: only the ``window_size`` before it), computed blockwise in
    ``O(L·window)`` memory by :func:`local_attention`.

    Same parameters as ``MultiheadAttention`` (so its weights load from one), and the same call
    ``(query, key, value, key_padding_mask=...)`` returning ``(output, None)``, so it can
    replace ``self_attn`` in a Transformer layer. ``attn_mask`` and attention weights are not
    supported: the band *is* the mask, and full weights would cost the ``O(L²)`` it avoids.
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        window_size,
        dropout=0.0,
        bias=True,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        super().__init__(
            embed_dim,
            num_heads,
            dropout,
            bias,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )
        if window_size < 0:
            raise ValueError(f"window_size must be >= 0, got {window_size}")
        self.window_size = window_size

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=False,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        if need_weights:
            raise NotImplementedError("LocalAttention does not return attention weights")
        if attn_mask is not None and not is_causal:
            raise NotImplementedError(
                "LocalAttention takes no attn_mask: the window is its mask"
            )
        batched = query.dim() == 3
        if not batched:
            query, key, value = (
                x.unsqueeze(0 if self.batch_first else 1) for x in (query, key, value)
            )
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if key_padding_mask is not None and key_padding_mask.dtype != torch.bool:
            raise TypeError(
                f"key_padding_mask must be bool (True = padding), got {key_padding_mask.dtype}"
            )
        batch, length, embed = query.shape
        if embed != self.embed_dim:
            raise ValueError(
                f"expected query (N, L, {self.embed_dim}), got {tuple(query.shape)}"
            )
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)

        def heads(x, w, b):  # (N, L, E) -> (N, H, L, E/H)
            return (
                F.linear(x, w, b).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
            )

        out = F.local_attention(
            heads(query, w_q, b_q),
            heads(key, w_k, b_k),
            heads(value, w_v, b_v),
            self.window_size,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        out = F.linear(out.transpose(1, 2).flatten(2), self.out_proj.weight, self.out_proj.bias)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
        return out, None


# --8<-- [end:local]
