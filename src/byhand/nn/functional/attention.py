"""Attention: scaled dot-product attention, multi-head attention, relative-position buckets and
sliding-window (local) attention.

The core is one ``torch.autograd.Function`` whose backward is written out: it keeps the
softmax ``P`` from the forward pass and needs one ``(L, S)`` product less than autograd would.
"""

import math

import torch
import torch.nn.functional as torch_functional

from byhand.nn.functional.activation import softmax
from byhand.nn.functional.dropout import dropout
from byhand.nn.functional.linear import linear

__all__ = [
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "relative_position_bucket",
    "local_attention",
]


def _shape(t):
    return tuple(t.shape)


def _sum_to(grad, shape):
    """Sum a broadcast gradient back to ``shape`` (the reverse of broadcasting)."""
    if _shape(grad) == tuple(shape):
        return grad
    extra = grad.dim() - len(shape)
    dims = tuple(range(extra)) + tuple(
        i + extra for i, size in enumerate(shape) if size == 1 and grad.shape[i + extra] != 1
    )
    return grad.sum(dim=dims, keepdim=True).reshape(shape)


# --8<-- [start:attention_core]
class _Attention(torch.autograd.Function):
    """``O = dropout(softmax(scale · Q Kᵀ + bias)) V`` with a hand-written backward.

    Forward keeps ``P = softmax(·)`` and the dropout mask. Backward, with ``A = P ⊙ mask``:
    ``dV = Aᵀ dO``; ``dP = (dO Vᵀ) ⊙ mask``; ``dS = P ⊙ (dP - δ)`` where
    ``δ = rowsum(dO ⊙ O)`` equals ``rowsum(P ⊙ dP)`` but costs ``(L, E)`` instead of ``(L, S)``;
    ``dQ = scale · dS K``, ``dK = scale · dSᵀ Q``, ``dbias = dS``.
    """

    # --8<-- [start:core_attention]
    @staticmethod
    def forward(ctx, query, key, value, bias, dropout_p, scale):
        scores = torch.matmul(query * scale, key.transpose(-2, -1))
        if bias is not None:
            scores = scores + bias
        # Stable softmax: subtract the row maximum. A row masked everywhere has maximum -inf;
        # shifting it by 0 instead keeps it -inf, e^-inf = 0, and the clamped sum gives P = 0.
        if scores.shape[-1]:
            row_max = scores.amax(dim=-1, keepdim=True)
            scores = scores.sub_(row_max.masked_fill_(row_max == -math.inf, 0.0))
        probs = scores.exp_()
        probs = probs.div_(probs.sum(dim=-1, keepdim=True).clamp_(min=1.0))
        keep = None
        if dropout_p > 0.0:
            keep = torch.empty_like(probs).bernoulli_(1.0 - dropout_p).div_(1.0 - dropout_p)
        output = torch.matmul(probs if keep is None else probs * keep, value)
        ctx.save_for_backward(query, key, value, probs, keep, output)
        ctx.scale = scale
        ctx.bias_shape = None if bias is None else _shape(bias)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, probs, keep, output = ctx.saved_tensors
        scale = ctx.scale
        dropped = probs if keep is None else probs * keep
        grad_value = torch.matmul(dropped.transpose(-2, -1), grad_output)
        grad_probs = torch.matmul(grad_output, value.transpose(-2, -1))
        if keep is not None:
            grad_probs = grad_probs.mul_(keep)
        delta = (grad_output * output).sum(dim=-1, keepdim=True)
        grad_scores = grad_probs.sub_(delta).mul_(probs)
        grad_query = torch.matmul(grad_scores, key).mul_(scale)
        grad_key = torch.matmul(grad_scores.transpose(-2, -1), query).mul_(scale)
        grad_bias = None
        if ctx.bias_shape is not None and ctx.needs_input_grad[3]:
            grad_bias = _sum_to(grad_scores, ctx.bias_shape)
        return (
            _sum_to(grad_query, query.shape),
            _sum_to(grad_key, key.shape),
            _sum_to(grad_value, value.shape),
            grad_bias,
            None,
            None,
        )
        # --8<-- [end:core_attention]


# --8<-- [end:attention_core]


# --8<-- [start:sdpa]
def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    """``softmax(Q Kᵀ / √E + mask) V``; ``Q (..., L, E)``, ``K (..., S, E)``, ``V (..., S, Ev)``

    ``attn_mask``: boolean (``True`` = may attend) or additive float, broadcastable to
    ``(..., L, S)``. ``is_causal``: query ``i`` sees keys ``j ≤ i`` (top-left aligned).
    ``enable_gqa``: ``K``, ``V`` with fewer heads (dim ``-3``), each shared by a group of
    query heads.
    A query row that may attend to nothing returns zeros (and a zero gradient), as PyTorch does.

    Shapes: ``query`` ``(*, L, E)``, ``key`` ``(*, S, E)``, ``value`` ``(*, S, Ev)``,
    ``attn_mask`` broadcastable to ``(*, L, S)``; returns ``(*, L, Ev)``.
    """
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(
            "scaled_dot_product_attention expects query (..., L, E), key (..., S, E), "
            f"value (..., S, Ev); got {_shape(query)}, {_shape(key)}, {_shape(value)}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention expects query (..., L, E), key (..., S, E) and value "
            f"(..., S, Ev) with matching E and S; got {_shape(query)}, {_shape(key)}, "
            f"{_shape(value)}"
        )
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        groups, rest = divmod(query.shape[-3], key.shape[-3])
        if rest or key.shape[-3] != value.shape[-3]:
            raise ValueError(
                "enable_gqa: the query heads must be a multiple of the key/value heads, got "
                f"{query.shape[-3]} query heads and {key.shape[-3]}/{value.shape[-3]} key/value"
            )
        key = key.repeat_interleave(groups, dim=-3)
        value = value.repeat_interleave(groups, dim=-3)
    length, source = query.shape[-2], key.shape[-2]
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(
                "scaled_dot_product_attention: pass attn_mask or is_causal, not both"
            )
        attn_mask = torch.ones(length, source, dtype=torch.bool, device=query.device).tril_()
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
            raise TypeError(
                "attn_mask must be bool (True = may attend) or a float added to the scores, "
                f"got {attn_mask.dtype}"
            )
        scores_shape = (
            *torch.broadcast_shapes(query.shape[:-2], key.shape[:-2]),
            length,
            source,
        )
        try:
            fits = torch.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"attn_mask of shape {_shape(attn_mask)} does not broadcast to the attention "
                f"scores {scores_shape} (..., L, S)"
            )
        if attn_mask.dtype == torch.bool:
            bias = torch.zeros(attn_mask.shape, dtype=query.dtype, device=query.device)
            bias = bias.masked_fill_(attn_mask.logical_not(), -math.inf)
        else:
            bias = attn_mask.to(query.dtype)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _Attention.apply(query, key, value, bias, float(dropout_p), scale)


# --8<-- [end:sdpa]


def _additive(mask, name, dtype):
    """A boolean mask (``True`` = masked out) as ``0 / -inf``; a float mask as it is."""
    if mask is None or mask.is_floating_point():
        return None if mask is None else mask.to(dtype)
    if mask.dtype != torch.bool:
        raise TypeError(f"{name} must be bool (True = ignore) or float, got {mask.dtype}")
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(
        mask, -math.inf
    )


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """True for batched ``(L, N, E)`` inputs, False for unbatched ``(L, E)``; clear errors."""
    batched = query.dim() == 3
    # PyTorch asserts these shapes: the same class (AssertionError), a clearer message
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be (L, N, E) or (L, E), got {_shape(query)}")
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AssertionError(
            f"query, key and value should all be {query.dim()}-D, got query {_shape(query)}, "
            f"key {_shape(key)}, value {_shape(value)}"
        )
    if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
        expected = "(N, S)" if batched else "(S,)"
        raise AssertionError(
            f"key_padding_mask should be {expected} for {query.dim()}-D query, "
            f"got {_shape(key_padding_mask)}"
        )
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise ValueError(
                f"attn_mask should be (L, S) or (N·num_heads, L, S), got {_shape(attn_mask)}"
            )
        if not batched and attn_mask.dim() == 3 and attn_mask.shape[0] != num_heads:
            raise ValueError(
                f"attn_mask should be (num_heads={num_heads}, L, S) for unbatched query, "
                f"got {_shape(attn_mask)}"
            )
    return batched


# --8<-- [start:mha]
def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    average_attn_weights=True,
    is_causal=False,
):
    """Multi-head attention, time first: ``query (L, N, E)``, ``key (S, N, kdim)``,
    ``value (S, N, vdim)`` (or unbatched ``(L, E)``...). Returns
    ``(output (L, N, E), weights)``.

    Project, split ``E`` into ``num_heads`` heads of ``E / num_heads``, attend per head, merge,
    project out. Masks: boolean ``True`` (or ``-inf``) = ignore; ``key_padding_mask (N, S)``,
    ``attn_mask (L, S)`` or ``(N·num_heads, L, S)``. ``weights (N, L, S)`` averaged over heads
    (``(N, num_heads, L, S)`` if not ``average_attn_weights``), or ``None`` without
    ``need_weights``.
    """
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    length, batch, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"expected query with embed_dim {embed_dim_to_check}, got {embed_dim}"
        )
    if embed_dim % num_heads:
        raise AssertionError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key {_shape(key)} and value {_shape(value)} differ in (S, N)")
    if is_causal and attn_mask is None:
        raise ValueError("is_causal=True needs attn_mask as well (PyTorch's convention)")
    key_padding_mask = _additive(key_padding_mask, "key_padding_mask", query.dtype)
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint stands for the mask: scaled_dot_product_attention's causal
    else:
        attn_mask = _additive(attn_mask, "attn_mask", query.dtype)
        is_causal = is_causal and key_padding_mask is None

    # Projections: one (3E, E) weight split in three, or three separate weights (kdim/vdim).
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    source = key.shape[0]
    if attn_mask is not None:
        expected = (
            (length, source) if attn_mask.dim() == 2 else (batch * num_heads, length, source)
        )
        if _shape(attn_mask) != expected:
            raise ValueError(
                f"attn_mask should be {expected} ((L, S) or (N·num_heads, L, S)), "
                f"got {_shape(attn_mask)}"
            )
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.dim() == 2 else attn_mask
    extra = []  # one learned key/value (add_bias_kv) and/or one zero key/value (add_zero_attn)
    if bias_k is not None:
        k = torch.cat([k, bias_k.expand(1, batch, embed_dim)])
        v = torch.cat([v, bias_v.expand(1, batch, embed_dim)])
        extra.append(1)
    # Split heads: (S, N, E) -> (N·H, S, E/H).
    q = q.reshape(length, batch * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], batch * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], batch * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = k.new_zeros(batch * num_heads, 1, head_dim)
        k, v = torch.cat([k, zeros], dim=1), torch.cat([v, zeros], dim=1)
        extra.append(1)
    if extra and attn_mask is not None:
        attn_mask = torch_functional.pad(attn_mask, (0, len(extra)))
    if extra and key_padding_mask is not None:
        key_padding_mask = torch_functional.pad(key_padding_mask, (0, len(extra)))
    source = k.shape[1]
    if key_padding_mask is not None:
        if _shape(key_padding_mask) != (batch, source):
            raise ValueError(
                f"key_padding_mask should be (N, S) = {(batch, source - len(extra))}, "
                f"got {(key_padding_mask.shape[0], key_padding_mask.shape[1] - len(extra))}"
            )
        padding = key_padding_mask.view(batch, 1, 1, source).expand(-1, num_heads, -1, -1)
        padding = padding.reshape(batch * num_heads, 1, source)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    dropout_p = dropout_p if training else 0.0

    if need_weights:  # the weights are returned: softmax written out, NaN on fully masked rows
        scores = torch.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
        weights = softmax(scores if attn_mask is None else scores + attn_mask, dim=-1)
        heads = torch.bmm(dropout(weights, dropout_p, dropout_p > 0), v)
        weights = weights.view(batch, num_heads, length, source)
        weights = weights.mean(dim=1) if average_attn_weights else weights
    else:  # scaled_dot_product_attention: fully masked rows give zeros
        if attn_mask is not None:
            if attn_mask.shape[0] == 1:
                attn_mask = attn_mask.unsqueeze(0)  # (1, 1, L, S), shared by every head
            else:
                attn_mask = attn_mask.view(batch, num_heads, -1, source)
        heads = scaled_dot_product_attention(
            q.view(batch, num_heads, length, head_dim),
            k.view(batch, num_heads, source, head_dim),
            v.view(batch, num_heads, source, head_dim),
            attn_mask,
            dropout_p,
            is_causal,
        ).flatten(0, 1)
        weights = None
    # Merge heads: (N·H, L, E/H) -> (L, N, E), then the output projection.
    merged = heads.transpose(0, 1).reshape(length, batch, embed_dim)
    output = linear(merged, out_proj_weight, out_proj_bias)
    if not batched:
        output = output.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return output, weights


# --8<-- [end:mha]


# --8<-- [start:buckets]
def relative_position_bucket(
    relative_position, bidirectional=True, num_buckets=32, max_distance=128, clipped=False
):
    """Map ``key position - query position`` to an index into a table of learned biases.

    ``clipped`` (Shaw et al., 2018): ``clamp(d, -max_distance, max_distance) + max_distance``,
    ``2·max_distance + 1`` buckets (``max_distance + 1`` one-sided, where ``d > 0`` is clamped
    to 0). Otherwise T5's buckets (Raffel et al., 2020): half the buckets per sign when
    ``bidirectional``; within a sign, distances below ``n/2`` get a bucket each and larger
    ones share log-spaced buckets up to ``max_distance``, beyond which they share the last.

    Shapes: ``relative_position`` ``(*)`` integers; returns bucket indices ``(*)``.
    """
    d = relative_position
    if clipped:
        if not bidirectional:
            return (-d).clamp(min=0, max=max_distance)
        return d.clamp(-max_distance, max_distance) + max_distance
    buckets = torch.zeros_like(d)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (d > 0).long() * num_buckets
        distance = d.abs()
    else:
        distance = (-d).clamp(min=0)
    exact = num_buckets // 2
    # log-spaced buckets in float64: a bucket edge never moves with the float precision
    ratio = distance.double().clamp(min=1) / exact
    spread = torch.log(ratio) / math.log(max_distance / exact) * (num_buckets - exact)
    large = (exact + spread.long()).clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < exact, distance, large)


# --8<-- [end:buckets]


# --8<-- [start:local]
def local_attention(
    query, key, value, window, key_padding_mask=None, is_causal=False, dropout_p=0.0, scale=None
):
    """Sliding-window attention: query ``i`` sees keys ``j`` with ``|i - j| ≤ window``
    (``i - window ≤ j ≤ i`` if ``is_causal``). ``query, key, value (..., L, E)``.

    Blockwise in ``O(L·window)`` memory: queries in blocks of ``B = window``; block ``b`` only
    needs the keys of blocks ``b - 1, b, b + 1``, ``3B`` of them, masked to the band. Keys are
    windowed by ``unfold`` (a view); scores are ``(..., L/B, B, 3B)``, not ``(..., L, L)``.
    ``key_padding_mask (N, L)``: ``True`` = padding, for ``(N, H, L, E)`` inputs.
    """
    length = query.shape[-2]
    if key.shape[-2] != length or value.shape[-2] != length:
        raise ValueError(
            "local_attention is self-attention over one sequence: query, key and value need "
            "the "
            f"same length L, got {_shape(query)}, {_shape(key)}, {_shape(value)}"
        )
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    block = max(window, 1)
    blocks = -(-length // block)
    pad = blocks * block - length

    def windows(x):  # (..., L, E) -> (..., blocks, 3B, E): keys of blocks b-1, b, b+1
        x = torch_functional.pad(x, (0, 0, block, pad + block))
        return x.unfold(-2, 3 * block, block).transpose(-1, -2)

    q = torch_functional.pad(query, (0, 0, 0, pad)).unflatten(-2, (blocks, block))
    device = query.device
    rows = torch.arange(blocks * block, device=device).view(blocks, block, 1)
    cols = torch.arange(3 * block, device=device) - block
    cols = (torch.arange(blocks, device=device) * block).view(blocks, 1, 1) + cols
    allowed = (cols >= 0) & (cols < length) & (cols <= rows + (0 if is_causal else window))
    allowed = allowed & (cols >= rows - window)  # (blocks, B, 3B)
    if key_padding_mask is not None:
        padded = torch_functional.pad(key_padding_mask, (block, pad + block), value=True)
        keep = padded.logical_not().unfold(-1, 3 * block, block)  # (N, blocks, 3B)
        allowed = allowed & keep[:, None, :, None, :]
    out = scaled_dot_product_attention(
        q, windows(key), windows(value), allowed, dropout_p, scale=scale
    )
    return out.flatten(-3, -2)[..., :length, :]


# --8<-- [end:local]
