"""``RAdam``: Adam whose adaptive step is switched on only once the variance estimate is
trustworthy (Liu et al., 2020).

``ρ_∞ = 2 / (1 - β2) - 1`` and ``ρ_t = ρ_∞ - 2 t β2ᵗ / (1 - β2ᵗ)`` measure how many
gradients the average ``v`` effectively holds. While ``ρ_t ≤ 5`` the step is plain momentum
SGD, ``η m̂``; afterwards it is Adam's step times the rectification ``r_t``.
"""

import math

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_betas,
    check_lr,
    decline,
    new_step,
)

__all__ = ["RAdam"]


def rectification(beta2, t):
    """``r_t`` when the variance is tractable (``ρ_t > 5``), else ``None``."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho_t <= 5.0:
        return None
    return math.sqrt(
        (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    )


# --8<-- [start:radam_loop]
def radam_loop(params, grads, states, *, lr, beta1, beta2, eps, weight_decay,
               decoupled_weight_decay, maximize):  # fmt: skip
    """One RAdam step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        t = state["step"].item()
        if weight_decay != 0:
            if decoupled_weight_decay:
                p.mul_(1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        m_hat = m / (1 - beta1**t)
        rect = rectification(beta2, t)
        if rect is None:  # too few gradients in v: momentum SGD
            p.add_(m_hat, alpha=-lr)
        else:
            adaptive = math.sqrt(1 - beta2**t) / (v.sqrt() + eps)
            p.add_(m_hat * adaptive, alpha=-lr * rect)


# --8<-- [end:radam_loop]


# --8<-- [start:radam_foreach]
def radam_foreach(params, grads, states, *, lr, beta1, beta2, eps, weight_decay,
                  decoupled_weight_decay, maximize):  # fmt: skip
    """The same step on whole lists: rectified and not-yet-rectified tensors apart."""
    steps = [s["step"] for s in states]
    ms, vs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
    torch._foreach_add_(steps, 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        if decoupled_weight_decay:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        else:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_lerp_(ms, grads, 1 - beta1)
    torch._foreach_mul_(vs, beta2)
    torch._foreach_addcmul_(vs, grads, grads, 1 - beta2)
    ts = [step.item() for step in steps]
    rects = [rectification(beta2, t) for t in ts]
    on = [i for i, rect in enumerate(rects) if rect is not None]
    off = [i for i, rect in enumerate(rects) if rect is None]
    if off:  # too few gradients in v: p ← p - η m̂
        steps_off = torch._foreach_mul(
            [ms[i] for i in off], [-lr / (1 - beta1 ** ts[i]) for i in off]
        )
        torch._foreach_add_([params[i] for i in off], steps_off)
    if on:
        denom = torch._foreach_sqrt([vs[i] for i in on])
        torch._foreach_add_(denom, eps)
        scale = [
            -lr * rects[i] * math.sqrt(1 - beta2 ** ts[i]) / (1 - beta1 ** ts[i]) for i in on
        ]
        torch._foreach_addcdiv_([params[i] for i in on], [ms[i] for i in on], denom, scale)


# --8<-- [end:radam_foreach]


class RAdam(Optimizer):
    """RAdam with PyTorch's arguments (``decoupled_weight_decay`` included) and state keys."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):  # fmt: skip
        check_lr("RAdam", lr)  # a tensor lr works with foreach too, as in PyTorch
        check_at_least("RAdam", "eps", eps)
        betas = check_betas("RAdam", betas)
        check_at_least("RAdam", "weight_decay", weight_decay)
        decline("RAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    update_loop, update_foreach = staticmethod(radam_loop), staticmethod(radam_foreach)
    update_options = ("betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state
