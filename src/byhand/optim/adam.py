"""``Adam``: moving averages of the gradient and of its square, with bias correction.

The update is written twice: ``adam_loop`` walks the parameters one at a time (the form to read)
and ``adam_foreach`` does the same arithmetic on whole lists with ``torch._foreach_*`` (the form
the class uses unless ``foreach=False``). State keys are PyTorch's (``step``, ``exp_avg``,
``exp_avg_sq``, ``max_exp_avg_sq``), so state_dicts load both ways.
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

__all__ = ["Adam"]


# --8<-- [start:adam_loop]
def adam_loop(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, amsgrad,
              maximize, decoupled_weight_decay):  # fmt: skip
    """One Adam step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        t = state["step"].item()
        if weight_decay != 0:
            if decoupled_weight_decay:  # AdamW: shrink the weights, outside the moments
                p.mul_(1 - lr * weight_decay)
            else:  # Adam: an L2 term, folded into the gradient
                g = g + weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)  # m ← β1 m + (1 - β1) g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v ← β2 v + (1 - β2) g²
        if amsgrad:  # use the largest v seen so far
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = v.sqrt().div_(math.sqrt(1 - beta2**t)).add_(eps)  # √v̂ + ε
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))  # p ← p - η m̂ / (√v̂ + ε)


# --8<-- [end:adam_loop]


# --8<-- [start:adam_foreach]
def adam_foreach(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, amsgrad,
                 maximize, decoupled_weight_decay):  # fmt: skip
    """The same step on whole lists of tensors: one ``torch._foreach_*`` call per line."""
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
    if amsgrad:
        maxima = [s["max_exp_avg_sq"] for s in states]
        torch._foreach_maximum_(maxima, vs)
        vs = maxima
    ts = [step.item() for step in steps]
    denom = torch._foreach_sqrt(vs)
    torch._foreach_div_(denom, [math.sqrt(1 - beta2**t) for t in ts])
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, ms, denom, [-lr / (1 - beta1**t) for t in ts])


# --8<-- [end:adam_foreach]


# --8<-- [start:Adam]
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's arguments, defaults and state keys.

    For each parameter ``p`` with gradient ``g`` at step ``t``::

        m ← β1 m + (1 - β1) g,   v ← β2 v + (1 - β2) g²
        p ← p - η (m / (1 - β1ᵗ)) / (√(v / (1 - β2ᵗ)) + ε)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):  # fmt: skip
        name = type(self).__name__
        check_lr(name, lr, foreach)
        check_at_least(name, "eps", eps)
        betas = check_betas(name, betas, foreach)
        check_at_least(name, "weight_decay", weight_decay)
        decline(name, capturable=capturable, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)  # fmt: skip
        super().__init__(params, defaults)

    update_loop, update_foreach = staticmethod(adam_loop), staticmethod(adam_foreach)
    update_options = (
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "decoupled_weight_decay",
    )

    def _state(self, p, group):
        state = self.state[p]
        if not state:  # first step: zero moments, the step counter at 0
            state["step"] = new_step()
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(
                    p, memory_format=torch.preserve_format
                )
        return state


# --8<-- [end:Adam]
