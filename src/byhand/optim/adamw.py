"""``AdamW``: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

The whole difference from Adam is where the decay goes: AdamW shrinks the weights by
``1 - η λ`` before the step instead of adding ``λ p`` to the gradient, so the decay is not
divided by ``√v̂``. The update itself is ``adam_loop`` / ``adam_foreach`` with
``decoupled_weight_decay=True``, as in PyTorch, where ``AdamW`` is an ``Adam`` subclass too.
"""

from byhand.optim.adam import Adam

__all__ = ["AdamW"]


# --8<-- [start:AdamW]
class AdamW(Adam):
    """Adam with ``p ← p (1 - η λ)`` before the step; default ``weight_decay=1e-2``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)  # fmt: skip

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:  # a state_dict saved by Adam still decays decoupled
            group["decoupled_weight_decay"] = True


# --8<-- [end:AdamW]
