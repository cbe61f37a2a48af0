"""``NAdam``: Adam with Nesterov momentum and PyTorch's momentum-decay schedule (Dozat, 2016).

The momentum coefficient warms up, ``μ_t = β1 (1 - ½ · 0.96^(t ψ))`` (``momentum_decay`` ψ),
and the step looks one momentum ahead: it mixes the current gradient (weight ``1 - μ_t``) with
the average ``m`` (weight ``μ_{t+1}``), each divided by its own product of past μ's. The running
product lives in ``state["mu_product"]``, a 0-dim tensor as in PyTorch.
"""

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_betas,
    check_lr,
    decline,
    new_step,
    scalar_dtype,
)

__all__ = ["NAdam"]


def momentum_at(beta1, t, momentum_decay):
    """μ_t = β1 (1 - ½ · 0.96^(t ψ))."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


# --8<-- [start:nadam_loop]
def nadam_loop(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, momentum_decay,
               decoupled_weight_decay, maximize):  # fmt: skip
    """One NAdam step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        t = state["step"].item()
        if weight_decay != 0:
            if decoupled_weight_decay:
                p.mul_(1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        mu = momentum_at(beta1, t, momentum_decay)  # μ_t
        mu_next = momentum_at(beta1, t + 1, momentum_decay)  # μ_{t+1}
        state["mu_product"] *= mu  # Π_{i≤t} μ_i, kept in the scalar dtype as PyTorch does
        product = state["mu_product"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v / (1 - beta2**t)).sqrt() + eps
        p.addcdiv_(g, denom, value=-lr * (1 - mu) / (1 - product))
        p.addcdiv_(m, denom, value=-lr * mu_next / (1 - product * mu_next))


# --8<-- [end:nadam_loop]


# --8<-- [start:nadam_foreach]
def nadam_foreach(params, grads, states, *, lr, beta1, beta2, eps, weight_decay,
                  momentum_decay, decoupled_weight_decay, maximize):  # fmt: skip
    """The same step on whole lists with ``torch._foreach_*``."""
    steps, products = [s["step"] for s in states], [s["mu_product"] for s in states]
    ms, vs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
    torch._foreach_add_(steps, 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        if decoupled_weight_decay:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        else:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    ts = [step.item() for step in steps]
    mus = [momentum_at(beta1, t, momentum_decay) for t in ts]
    mu_nexts = [momentum_at(beta1, t + 1, momentum_decay) for t in ts]
    torch._foreach_mul_(products, mus)
    done = [product.item() for product in products]
    torch._foreach_lerp_(ms, grads, 1 - beta1)
    torch._foreach_mul_(vs, beta2)
    torch._foreach_addcmul_(vs, grads, grads, 1 - beta2)
    denom = torch._foreach_div(vs, [1 - beta2**t for t in ts])
    torch._foreach_sqrt_(denom)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(
        params, grads, denom, [-lr * (1 - mu) / (1 - pr) for mu, pr in zip(mus, done)]
    )
    torch._foreach_addcdiv_(
        params, ms, denom, [-lr * nx / (1 - pr * nx) for nx, pr in zip(mu_nexts, done)]
    )


# --8<-- [end:nadam_foreach]


class NAdam(Optimizer):
    """NAdam with PyTorch's arguments (``momentum_decay``, ``decoupled_weight_decay``)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):  # fmt: skip
        check_lr("NAdam", lr)  # a tensor lr works with foreach too, as in PyTorch
        check_at_least("NAdam", "eps", eps)
        betas = check_betas("NAdam", betas)
        check_at_least("NAdam", "weight_decay", weight_decay)
        check_at_least("NAdam", "momentum_decay", momentum_decay)
        decline("NAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable,
                        differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    update_loop, update_foreach = staticmethod(nadam_loop), staticmethod(nadam_foreach)
    update_options = (
        "betas",
        "eps",
        "weight_decay",
        "momentum_decay",
        "decoupled_weight_decay",
        "maximize",
    )

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["mu_product"] = torch.ones((), dtype=scalar_dtype())
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state
