"""``Adagrad``: divide by the root of the sum of every squared gradient so far (Duchi et al.).

Each coordinate's step shrinks as its squared gradients pile up in ``state["sum"]``, which
starts at ``initial_accumulator_value``; ``lr_decay`` also shrinks the learning rate as
``η / (1 + (t - 1) lr_decay)``. As in PyTorch, the state is created when the optimizer is built.
"""

import torch

from byhand.optim.optimizer import (
    Optimizer,
    check_at_least,
    check_lr,
    check_sparse_decay,
    decline,
    new_step,
)

__all__ = ["Adagrad"]


# --8<-- [start:adagrad_loop]
def adagrad_loop(params, grads, states, *, lr, lr_decay, weight_decay, eps, maximize):
    """One Adagrad step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        state["step"] += 1
        t = state["step"].item()
        check_sparse_decay("Adagrad", g, weight_decay)  # p would make g dense
        if weight_decay != 0:
            g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        if g.is_sparse:
            _sparse_step(p, g, state["sum"], clr, eps)
            continue
        total = state["sum"].addcmul_(g, g, value=1)  # G ← G + g²
        p.addcdiv_(g, total.sqrt().add_(eps), value=-clr)  # p ← p - η_t g / (√G + ε)


def _sparse_step(p, g, total, clr, eps):
    """The same step on the rows a sparse ``g`` holds (an embedding's looked-up rows)."""
    g = g.coalesce()  # repeated indices summed first: g² of the sum, not a sum of squares
    indices, values = g.indices(), g.values()
    total.add_(torch.sparse_coo_tensor(indices, values * values, g.shape))
    root = total.sparse_mask(g).values().sqrt_().add_(eps)
    p.add_(torch.sparse_coo_tensor(indices, values / root, g.shape), alpha=-clr)


# --8<-- [end:adagrad_loop]


# --8<-- [start:adagrad_foreach]
def adagrad_foreach(params, grads, states, *, lr, lr_decay, weight_decay, eps, maximize):
    """The same step on whole lists with ``torch._foreach_*``."""
    steps, sums = [s["step"] for s in states], [s["sum"] for s in states]
    torch._foreach_add_(steps, 1)
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_addcmul_(sums, grads, grads, 1)
    denom = torch._foreach_sqrt(sums)
    torch._foreach_add_(denom, eps)
    clrs = [-lr / (1 + (step.item() - 1) * lr_decay) for step in steps]
    torch._foreach_addcdiv_(params, grads, denom, clrs)


# --8<-- [end:adagrad_foreach]


class Adagrad(Optimizer):
    """Adagrad with PyTorch's arguments (``lr_decay``, ``initial_accumulator_value``)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):  # fmt: skip
        check_lr("Adagrad", lr)
        check_at_least("Adagrad", "lr_decay", lr_decay)
        check_at_least("Adagrad", "weight_decay", weight_decay)
        check_at_least("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        check_at_least("Adagrad", "eps", eps)
        decline("Adagrad", differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        fused=fused)  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._state(p, group)

    update_loop = staticmethod(adagrad_loop)
    update_foreach = staticmethod(adagrad_foreach)
    update_options = ("lr_decay", "weight_decay", "eps", "maximize")
    sparse_grads = True  # a sparse gradient updates its rows only (not with weight_decay)

    def _state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = new_step()
            state["sum"] = torch.full_like(
                p, group["initial_accumulator_value"], memory_format=torch.preserve_format
            )
        return state

    def share_memory(self):
        """Move the accumulators to shared memory (for Hogwild-style training)."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()
