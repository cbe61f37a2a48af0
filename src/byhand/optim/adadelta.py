"""``Adadelta``: RMSprop whose learning rate is the running RMS of past steps (Zeiler, 2012).

``v ← ρ v + (1 - ρ) g²``; ``Δ = √(u + ε) / √(v + ε) · g``; ``u ← ρ u + (1 - ρ) Δ²``;
``p ← p - η Δ``. The ratio of the two RMS values gives the step the units of the parameter, so
the default ``lr`` is 1. State keys are PyTorch's: ``step``, ``square_avg``, ``acc_delta``.
"""

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_lr,
    decline,
    new_step,
)

__all__ = ["Adadelta"]


# --8<-- [start:adadelta_loop]
def adadelta_loop(params, grads, states, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        if weight_decay != 0:
            g = g + weight_decay * p
        v, u = state["square_avg"], state["acc_delta"]
        v.mul_(rho).addcmul_(g, g, value=1 - rho)  # v ← ρ v + (1 - ρ) g²
        delta = u.add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(g)  # Δ = RMS[u]/RMS[v] g
        u.mul_(rho).addcmul_(delta, delta, value=1 - rho)  # u ← ρ u + (1 - ρ) Δ²
        p.add_(delta, alpha=-lr)


# --8<-- [end:adadelta_loop]


# --8<-- [start:adadelta_foreach]
def adadelta_foreach(params, grads, states, *, lr, rho, eps, weight_decay, maximize):
    """The same step on whole lists with ``torch._foreach_*``."""
    vs, us = [s["square_avg"] for s in states], [s["acc_delta"] for s in states]
    torch._foreach_add_([s["step"] for s in states], 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(vs, rho)
    torch._foreach_addcmul_(vs, grads, grads, 1 - rho)
    std = torch._foreach_add(vs, eps)
    torch._foreach_sqrt_(std)
    deltas = torch._foreach_add(us, eps)
    torch._foreach_sqrt_(deltas)
    torch._foreach_div_(deltas, std)
    torch._foreach_mul_(deltas, grads)
    torch._foreach_mul_(us, rho)
    torch._foreach_addcmul_(us, deltas, deltas, 1 - rho)
    torch._foreach_add_(params, deltas, alpha=-lr)


# --8<-- [end:adadelta_foreach]


class Adadelta(Optimizer):
    """Adadelta with PyTorch's arguments (``rho``), defaults (``lr=1.0``) and state keys."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):  # fmt: skip
        check_lr("Adadelta", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta expects 0 <= rho <= 1, got {rho}")
        check_at_least("Adadelta", "eps", eps)
        check_at_least("Adadelta", "weight_decay", weight_decay)
        decline("Adadelta", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach,
                        differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    update_loop = staticmethod(adadelta_loop)
    update_foreach = staticmethod(adadelta_foreach)
    update_options = ("rho", "eps", "weight_decay", "maximize")

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["acc_delta"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state
