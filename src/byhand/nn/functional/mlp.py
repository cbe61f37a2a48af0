"""Routing maths of a mixture of experts: top-k gating and the load-balancing loss."""

import torch

from byhand.nn.functional.activation import softmax

__all__ = ["load_balancing_loss", "top_k_gating"]


# --8<-- [start:top_k_gating]
def top_k_gating(logits, top_k=None, renormalize=False):
    """Router probabilities ``p = softmax(logits)`` of ``(T, E)``, and each token's experts.

    Returns ``(probs, weights, chosen)``: ``chosen`` ``(T, k)`` holds the ``k`` most probable
    experts of each token and ``weights`` ``(T, k)`` their probabilities — renormalised to sum
    to 1 if ``renormalize`` (Mixtral), left as they are otherwise (Switch Transformer: the
    router then gets a gradient through the output even for ``k = 1``). ``top_k=None``: every
    expert, ``chosen = 0..E−1``, ``weights = p`` (a soft gate).
    """
    probs = softmax(logits, dim=-1)
    if top_k is None:
        chosen = torch.arange(logits.shape[-1], device=logits.device).expand(logits.shape)
        return probs, probs, chosen
    weights, chosen = probs.topk(top_k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(-1, keepdim=True)
    return probs, weights, chosen


# --8<-- [end:top_k_gating]


# --8<-- [start:load_balancing_loss]
def load_balancing_loss(probs, chosen):
    """Switch Transformer's auxiliary loss ``E · Σ_e f_e · P_e`` for ``probs`` ``(T, E)``.

    ``f_e``: the fraction of routing slots sent to expert ``e`` (``chosen`` ``(T, k)``; counts,
    no gradient); ``P_e``: the mean router probability of ``e``. It is 1 when the load is
    uniform and grows to ``E`` when every token goes to one expert.
    """
    num_experts = probs.shape[-1]
    counts = torch.zeros(num_experts, dtype=probs.dtype, device=probs.device)
    counts.index_add_(
        0, chosen.reshape(-1), torch.ones_like(chosen.reshape(-1), dtype=probs.dtype)
    )
    fraction = counts / chosen.numel()
    return num_experts * (fraction * probs.mean(0)).sum()


# --8<-- [end:load_balancing_loss]
