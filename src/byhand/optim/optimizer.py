"""What every byhand optimizer shares: argument checks, gathering gradients, the step counter.

Mirrors ``torch.optim.optimizer``: the update rules live in one file each (``adam.py``, ...);
this file holds only the bookkeeping they would otherwise repeat.
"""

import torch

__all__ = ["Optimizer"]


# --8<-- [start:Optimizer]
class Optimizer(torch.optim.Optimizer):
    """The ``step()`` every byhand optimizer shares; each one brings its update and its state.

    A subclass sets ``update_loop`` (one parameter at a time, the form to read) and
    ``update_foreach`` (the same on lists, ``torch._foreach_*``) and ``update_options`` (the
    group's entries the update takes as keywords, besides ``lr``), and defines
    ``_state(p, group)`` (the state of ``p``, made on its first step). A complex
    parameter is updated as the real tensor ``view_as_real`` makes of it — its state too — as
    PyTorch does.
    """

    update_loop = update_foreach = None
    update_options = ()  # the group's entries the update takes besides lr (betas: beta1, beta2)
    real_view = True  # complex parameters through view_as_real (SGD: False, it needs none)
    sparse_grads = False  # True: sparse gradients accepted (SGD, Adagrad), taken by the loop

    def _options(self, group):
        """The update's keyword arguments from ``group``; ``betas`` split into two."""
        options = {key: group[key] for key in self.update_options}
        if "betas" in options:
            options["beta1"], options["beta2"] = options.pop("betas")
        return options

    @torch.no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = evaluate(closure)
        for group in self.param_groups:
            params, grads = with_grads(type(self).__name__, group, self.sparse_grads)
            if not params:
                continue
            states = [self._state(p, group) for p in params]
            dense = [not g.is_sparse for g in grads]  # a sparse one: as it is, by the loop
            if self.real_view:
                states, params = _real_states(states, dense), _real(params, dense)
                grads = _real(grads, dense)
            # the _foreach_* ops take no sparse tensor: a sparse gradient takes the loop
            vector = vectorised(group) and all(dense)
            update = self.update_foreach if vector else self.update_loop
            # a tensor lr (PyTorch allows one) is used through its value, as PyTorch does
            update(params, grads, states, lr=float(group["lr"]), **self._options(group))
        return loss


def _real(tensors, dense):
    """Complex tensors as real views, except where the gradient is sparse (``dense`` False)."""
    return [
        torch.view_as_real(t) if t.is_complex() and d else t for t, d in zip(tensors, dense)
    ]


def _real_states(states, dense):
    return [_real_state(state) if d else state for state, d in zip(states, dense)]


def _real_state(state):
    """``state`` with complex tensors seen as real ones (views: updates reach ``state``)."""
    if not any(isinstance(v, torch.Tensor) and v.is_complex() for v in state.values()):
        return state
    return {
        k: torch.view_as_real(v) if isinstance(v, torch.Tensor) and v.is_complex() else v
        for k, v in state.items()
    }


# --8<-- [end:Optimizer]


def check_lr(name, lr, foreach=None, capturable=False):
    """PyTorch's checks on ``lr``: non-negative, and a tensor only with one element."""
    if isinstance(lr, torch.Tensor):
        if foreach and not capturable:
            raise ValueError(
                f"{name}: lr as a Tensor is not supported for capturable=False and "
                f"foreach=True, got lr={lr}"
            )
        if lr.numel() != 1:
            raise ValueError(f"{name}: Tensor lr must be 1-element, got {lr.numel()} elements")
    if not 0.0 <= lr:
        raise ValueError(f"{name} expects lr >= 0, got {lr}")


def check_at_least(name, argument, value, low=0.0):
    """``value >= low`` or a ValueError naming ``argument`` and ``value``."""
    if not low <= value:
        raise ValueError(f"{name} expects {argument} >= {low}, got {value}")


def check_betas(name, betas, foreach=None):
    """Both betas in [0, 1), both floats or both 1-element tensors; returned as floats."""
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{name} expects 0 <= betas[{index}] < 1, got {beta}")
    tensors = [isinstance(beta, torch.Tensor) for beta in betas]
    if any(tensors) and not all(tensors):
        raise ValueError(
            f"{name}: betas must be either both floats or both Tensors, got {betas}"
        )
    if all(tensors) and foreach:
        raise ValueError(
            f"{name}: betas[0] as a Tensor is not supported for capturable=False and "
            f"foreach=True, got betas={betas}"
        )
    return tuple(float(beta) for beta in betas)


def decline(name, **flags):
    """``capturable``/``differentiable``/``fused``: PyTorch's keywords, accepted, not built."""
    for flag, value in flags.items():
        if value:
            raise NotImplementedError(f"byhand {name} does not implement {flag}=True")


def scalar_dtype():
    """The dtype PyTorch gives ``state["step"]``: float64 under a float64 default, else
    float32."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def new_step():
    """A fresh step counter, a 0-dim CPU tensor as in ``torch.optim`` (so state_dicts match)."""
    return torch.tensor(0.0, dtype=scalar_dtype())


def with_grads(name, group, sparse_grads=False):
    """``(params, grads)`` of a group's parameters that have a gradient; a sparse gradient
    raises unless ``sparse_grads`` (as PyTorch's Adam and friends raise a RuntimeError)."""
    params, grads = [], []
    for p in group["params"]:
        if p.grad is None:
            continue
        if p.grad.is_sparse and not sparse_grads:
            raise RuntimeError(
                f"byhand {name} does not support sparse gradients (parameter of shape "
                f"{tuple(p.shape)} has a sparse .grad); use a dense gradient"
            )
        params.append(p)
        grads.append(p.grad)
    return params, grads


def check_sparse_decay(name, grad, weight_decay):
    """Weight decay would make a sparse gradient dense: refused, as PyTorch does."""
    if weight_decay != 0 and grad.is_sparse:
        raise RuntimeError(
            f"{name}: weight_decay option is not compatible with sparse gradients (got "
            f"weight_decay={weight_decay}); use weight_decay=0 or a dense gradient"
        )


def vectorised(group):
    """The ``foreach`` argument: ``None`` (default) and ``True`` take the vectorised form."""
    return group["foreach"] is None or bool(group["foreach"])


def evaluate(closure):
    """Run ``closure`` with gradients enabled (``step`` itself runs under ``no_grad``)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
