"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

The bookkeeping (parameter groups, ``state_dict``, ``zero_grad``) comes from
``torch.optim.Optimizer``, ``step()`` from ``byhand.optim.optimizer.Optimizer``; the update rule
is written out by hand in ``sgd_loop`` (and on whole lists in ``sgd_foreach``). The state is
stored under PyTorch's key (``momentum_buffer``), so state_dicts load both ways.
"""

import torch

from byhand.optim.optimizer import Optimizer, check_lr, check_sparse_decay, decline

__all__ = ["SGD"]


# --8<-- [start:sgd_loop]
def sgd_loop(params, grads, states, *, lr, momentum, dampening, weight_decay, nesterov,
             maximize):  # fmt: skip
    """One SGD step, parameter by parameter."""
    for p, g, state in zip(params, grads, states):
        g = -g if maximize else g
        check_sparse_decay("SGD", g, weight_decay)  # p would make g dense
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # the first step: the buffer starts at g
                buf = state["momentum_buffer"] = g.clone()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - dampening)
            g = g + momentum * buf if nesterov else buf
        p.add_(g, alpha=-lr)


# --8<-- [end:sgd_loop]


def sgd_foreach(params, grads, states, *, lr, momentum, dampening, weight_decay, nesterov,
                maximize):  # fmt: skip
    """The same step on whole lists with ``torch._foreach_*``."""
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if momentum != 0:
        fresh = [s.get("momentum_buffer") is None for s in states]
        old = [s["momentum_buffer"] for s, new in zip(states, fresh) if not new]
        if old:
            torch._foreach_mul_(old, momentum)
            kept = [g for g, new in zip(grads, fresh) if not new]
            torch._foreach_add_(old, kept, alpha=1 - dampening)
        for s, g, new in zip(states, grads, fresh):
            if new:
                s["momentum_buffer"] = g.clone()
        bufs = [s["momentum_buffer"] for s in states]
        grads = torch._foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_add_(params, grads, alpha=-lr)


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's arguments, defaults and state keys.

    For each parameter ``p`` with gradient ``g`` (step ``t``)::

        g ← g + λ p                                  (weight_decay λ)
        b ← g                  if t = 1              (momentum μ > 0)
        b ← μ b + (1 - τ) g    otherwise             (dampening τ)
        g ← g + μ b            if nesterov else  g ← b
        p ← p - η g                                  (lr η; p + η g if maximize)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        check_lr("SGD", lr)
        decline("SGD", differentiable=differentiable, fused=fused)
        if momentum < 0.0:
            raise ValueError(f"SGD expects momentum >= 0, got {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD expects weight_decay >= 0, got {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD with nesterov=True expects momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    update_loop, update_foreach = staticmethod(sgd_loop), staticmethod(sgd_foreach)
    update_options = ("momentum", "dampening", "weight_decay", "nesterov", "maximize")
    real_view = False  # every SGD operation is linear: complex tensors take it as they are
    sparse_grads = True  # each operation above takes a sparse g (the buffer is then sparse)

    def _state(self, p, group):
        return self.state[p]  # the momentum buffer is made on the first step, from g
