"""``Linear``: an affine map ``y = x Wᵀ + b``, initialised as PyTorch initialises it."""

import math

import torch

from byhand.nn import functional as F
from byhand.nn import init

__all__ = ["Identity", "Linear"]


class Identity(torch.nn.Module):
    """Return the input unchanged, whatever the constructor was given (a placeholder layer).

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(torch.nn.Module):
    """Apply ``y = x Wᵀ + b`` to ``x`` of shape ``(*, in_features)``; returns ``(*,
    out_features)``.

    ``weight`` is ``(out_features, in_features)`` and ``bias`` is ``(out_features,)``, the same
    names and shapes as ``torch.nn.Linear``, so state_dicts load both ways.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"Linear expects non-negative sizes, got in={in_features}, out={out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        factory = {"device": device, "dtype": dtype}
        self.weight = torch.nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = torch.nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.reset_parameters()

    # --8<-- [start:core_init]
    def reset_parameters(self):
        # Kaiming-uniform with a = √5 gives weights in U(-1/√fan_in, 1/√fan_in); the bias uses
        # the same bound.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    # --8<-- [end:core_init]

    def forward(self, input):
        if input.dim() == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(
                f"Linear expects input of shape (*, {self.in_features}), "
                f"got {tuple(input.shape)}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"
