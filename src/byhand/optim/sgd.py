"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

The bookkeeping (parameter groups, ``state_dict``, ``zero_grad``) comes from
``torch.optim.Optimizer``; the update rule in :meth:`SGD.step` is written out by hand. The state
is stored under PyTorch's key (``momentum_buffer``), so state_dicts load both ways.
"""

import torch

__all__ = ["SGD"]


class SGD(torch.optim.Optimizer):
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
    ):
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError(
                f"SGD expects lr as a float or a 1-element tensor, got {lr.numel()}"
            )
        if lr < 0.0:
            raise ValueError(f"SGD expects lr >= 0, got {lr}")
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
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` re-evaluates and returns the
        loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # A tensor lr (PyTorch allows one) is used through its value, as PyTorch does.
            lr, mu, tau = float(group["lr"]), group["momentum"], group["dampening"]
            decay, nesterov, maximize = (
                group["weight_decay"],
                group["nesterov"],
                group["maximize"],
            )
            # --8<-- [start:core_sgd]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("byhand SGD does not support sparse gradients")
                g = -p.grad if maximize else p.grad
                if decay != 0:
                    g = g + decay * p
                if mu != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = g.clone()
                        state["momentum_buffer"] = buf
                    else:
                        buf.mul_(mu).add_(g, alpha=1 - tau)
                    g = g + mu * buf if nesterov else buf
                p.add_(g, alpha=-lr)
            # --8<-- [end:core_sgd]
        return loss
