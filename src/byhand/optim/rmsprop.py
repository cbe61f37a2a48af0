"""``RMSprop``: divide the gradient by a running root-mean-square of its recent values (Hinton).

``v ← α v + (1 - α) g²``; the step is ``η g / (√v + ε)``. ``centered`` subtracts the square of
the running mean gradient, dividing by an estimate of the standard deviation instead;
``momentum`` accumulates the scaled steps in a buffer as SGD does. State keys are PyTorch's:
``step``, ``square_avg``, ``momentum_buffer``, ``grad_avg``.
"""

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_lr,
    decline,
    new_step,
)

__all__ = ["RMSprop"]


# --8<-- [start:rmsprop_loop]
def rmsprop_loop(params, grads, states, *, lr, alpha, eps, weight_decay, momentum, centered,
                 maximize):  # fmt: skip
    """One RMSprop step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        if weight_decay != 0:
            g = g + weight_decay * p
        v = state["square_avg"]
        v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v ← α v + (1 - α) g²
        if centered:  # variance instead of second moment: v - (mean g)²
            mean = state["grad_avg"].lerp_(g, 1 - alpha)
            denom = v.addcmul(mean, mean, value=-1).sqrt_().add_(eps)
        else:
            denom = v.sqrt().add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(g, denom)  # b ← μ b + g / (√v + ε)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(g, denom, value=-lr)


# --8<-- [end:rmsprop_loop]


# --8<-- [start:rmsprop_foreach]
def rmsprop_foreach(params, grads, states, *, lr, alpha, eps, weight_decay, momentum,
                    centered, maximize):  # fmt: skip
    """The same step on whole lists with ``torch._foreach_*``."""
    vs = [s["square_avg"] for s in states]
    torch._foreach_add_([s["step"] for s in states], 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(vs, alpha)
    torch._foreach_addcmul_(vs, grads, grads, 1 - alpha)
    if centered:
        means = [s["grad_avg"] for s in states]
        torch._foreach_lerp_(means, grads, 1 - alpha)
        denom = torch._foreach_addcmul(vs, means, means, -1)
        torch._foreach_sqrt_(denom)
    else:
        denom = torch._foreach_sqrt(vs)
    torch._foreach_add_(denom, eps)
    if momentum > 0:
        bufs = [s["momentum_buffer"] for s in states]
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_addcdiv_(bufs, grads, denom)
        torch._foreach_add_(params, bufs, alpha=-lr)
    else:
        torch._foreach_addcdiv_(params, grads, denom, -lr)


# --8<-- [end:rmsprop_foreach]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's arguments (``alpha``, ``momentum``, ``centered``) and state."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):  # fmt: skip
        check_lr("RMSprop", lr)
        check_at_least("RMSprop", "eps", eps)
        check_at_least("RMSprop", "momentum", momentum)
        check_at_least("RMSprop", "weight_decay", weight_decay)
        check_at_least("RMSprop", "alpha", alpha)
        decline("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    update_loop = staticmethod(rmsprop_loop)
    update_foreach = staticmethod(rmsprop_foreach)
    update_options = ("alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(
                    p, memory_format=torch.preserve_format
                )
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state
