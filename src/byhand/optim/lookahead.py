"""``Lookahead``: k steps of any optimizer, then pull back towards a slow copy (Zhang et al.).

Each parameter ``p`` gets a slow weight ``φ`` (a copy taken when Lookahead is built). The
wrapped ("fast") optimizer steps as usual; every ``k`` steps ``φ ← φ + α (p - φ)`` and
``p ← φ``. The wrapper shares the inner optimizer's ``param_groups`` (so schedulers and
``zero_grad`` reach it) and keeps the slow weights in its own ``state[p]["slow_param"]``.
"""

import torch

__all__ = ["Lookahead"]


# --8<-- [start:Lookahead]
class Lookahead(torch.optim.Optimizer):
    """Wrap ``optimizer``; every ``k`` steps move the slow weights ``alpha`` of the way to the
    fast ones and restart the fast ones from there."""

    def __init__(self, optimizer, k=5, alpha=0.5):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"Lookahead wraps a torch.optim.Optimizer, got {type(optimizer)}")
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"Lookahead expects an integer k >= 1, got {k!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Lookahead expects 0 <= alpha <= 1, got {alpha}")
        self.k, self.alpha = k, alpha
        self.lookahead_step = 0  # fast steps taken so far
        super().__init__(optimizer.param_groups, optimizer.defaults)
        self.optimizer = optimizer
        self.param_groups = optimizer.param_groups  # one list, shared with the inner optimizer
        for group in self.param_groups:
            for p in group["params"]:
                self._slow(p)

    def _slow(self, p):
        """The slow weight of ``p``: one per parameter, never per group."""
        state = self.state[p]
        if "slow_param" not in state:
            state["slow_param"] = p.detach().clone()
        return state["slow_param"]

    def add_param_group(self, param_group):
        if not hasattr(self, "optimizer"):  # called by Optimizer.__init__: nothing to add
            return super().add_param_group(param_group)
        self.optimizer.add_param_group(param_group)
        for p in self.param_groups[-1]["params"]:
            self._slow(p)

    @torch.no_grad()
    # --8<-- [start:core_lookahead]
    def step(self, closure=None):
        """One step of the wrapped optimizer; every ``k``-th also syncs the slow weights."""
        loss = self.optimizer.step(closure)
        self.lookahead_step += 1
        if self.lookahead_step % self.k == 0:
            for group in self.param_groups:
                for p in group["params"]:
                    slow = self._slow(p)
                    slow.lerp_(p, self.alpha)  # φ ← φ + α (p - φ)
                    p.copy_(slow)  # p ← φ
        return loss

    # --8<-- [end:core_lookahead]

    def state_dict(self):
        """The inner optimizer's state_dict plus the slow weights (by parameter index), k, α."""
        params = [p for group in self.param_groups for p in group["params"]]
        return {
            "optimizer": self.optimizer.state_dict(),
            "slow_params": {i: self._slow(p).clone() for i, p in enumerate(params)},
            "k": self.k,
            "alpha": self.alpha,
            "lookahead_step": self.lookahead_step,
        }

    def load_state_dict(self, state_dict):
        """Load what :meth:`state_dict` returned; the inner optimizer loads its own part."""
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.param_groups = self.optimizer.param_groups  # load_state_dict built a new list
        params = [p for group in self.param_groups for p in group["params"]]
        if len(state_dict["slow_params"]) != len(params):
            raise ValueError(
                f"Lookahead state_dict has {len(state_dict['slow_params'])} slow weights, "
                f"the optimizer has {len(params)} parameters"
            )
        for i, p in enumerate(params):
            slow = state_dict["slow_params"][i]
            self.state[p]["slow_param"] = slow.detach().clone().to(p.device, p.dtype)
        self.k, self.alpha = state_dict["k"], state_dict["alpha"]
        self.lookahead_step = state_dict["lookahead_step"]


# --8<-- [end:Lookahead]
