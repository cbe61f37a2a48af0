"""``LAMB``: Adam's direction, rescaled per tensor by a trust ratio (You et al., 2020).

For each tensor ``p``: Adam's moments give ``r = m̂ / (√v̂ + ε)``; decoupled weight decay joins
the update, ``u = r + λ p``; the step is ``η · (‖p‖ / ‖u‖) · u``, so every layer moves by about
``η`` times its own size whatever the scale of its gradients — the property that lets large
batches train. The trust ratio is 1 when either norm is 0. PyTorch has no LAMB: the registry
checks this one against the paper's update written out independently.
"""

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_betas,
    check_lr,
    new_step,
)

__all__ = ["LAMB"]


# --8<-- [start:lamb_loop]
def lamb_loop(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, bias_correction,
              maximize):  # fmt: skip
    """One LAMB step, tensor by tensor."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        t = state["step"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bc1, bc2 = (1 - beta1**t, 1 - beta2**t) if bias_correction else (1.0, 1.0)
        update = (m / bc1) / ((v / bc2).sqrt() + eps)  # r = m̂ / (√v̂ + ε)
        if weight_decay != 0:
            update.add_(p, alpha=weight_decay)  # u = r + λ p: decay inside the update
        p_norm, u_norm = p.norm(), update.norm()
        trust = torch.where((p_norm > 0) & (u_norm > 0), p_norm / u_norm, 1.0)
        p.sub_(lr * trust * update)  # p ← p - η (‖p‖ / ‖u‖) u


# --8<-- [end:lamb_loop]


# --8<-- [start:lamb_foreach]
def lamb_foreach(params, grads, states, *, lr, beta1, beta2, eps, weight_decay,
                 bias_correction, maximize):  # fmt: skip
    """The same step on whole lists: one norm per tensor from ``torch._foreach_norm``."""
    steps = [s["step"] for s in states]
    ms, vs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
    torch._foreach_add_(steps, 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    torch._foreach_lerp_(ms, grads, 1 - beta1)
    torch._foreach_mul_(vs, beta2)
    torch._foreach_addcmul_(vs, grads, grads, 1 - beta2)
    ts = [step.item() for step in steps]
    if bias_correction:
        denom = torch._foreach_div(vs, [1 - beta2**t for t in ts])
        torch._foreach_sqrt_(denom)
    else:
        denom = torch._foreach_sqrt(vs)
    torch._foreach_add_(denom, eps)
    updates = torch._foreach_div(ms, denom)
    if bias_correction:
        torch._foreach_div_(updates, [1 - beta1**t for t in ts])
    if weight_decay != 0:
        torch._foreach_add_(updates, params, alpha=weight_decay)
    p_norms, u_norms = torch._foreach_norm(params), torch._foreach_norm(updates)
    trusts = [
        torch.where((pn > 0) & (un > 0), pn / un, 1.0) for pn, un in zip(p_norms, u_norms)
    ]
    torch._foreach_mul_(updates, trusts)
    torch._foreach_add_(params, updates, alpha=-lr)


# --8<-- [end:lamb_foreach]


class LAMB(Optimizer):
    """LAMB: Adam's update with decoupled decay, scaled per tensor by ``‖p‖ / ‖u‖``.

    State keys are Adam's (``step``, ``exp_avg``, ``exp_avg_sq``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                 bias_correction=True, *, foreach=None, maximize=False):  # fmt: skip
        check_lr("LAMB", lr, foreach)
        check_at_least("LAMB", "eps", eps)
        betas = check_betas("LAMB", betas, foreach)
        check_at_least("LAMB", "weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, foreach=foreach,
                        maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    update_loop, update_foreach = staticmethod(lamb_loop), staticmethod(lamb_foreach)
    update_options = ("betas", "eps", "weight_decay", "bias_correction", "maximize")

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state
