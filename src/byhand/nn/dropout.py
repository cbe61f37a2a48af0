"""Dropout layers: ``Dropout``, ``Dropout1d``, ``Dropout2d``, ``DropConnect``, ``DropBlock2d``.

Each is the identity in eval mode; ``p`` is the probability of dropping, as in PyTorch.
"""

import torch

from byhand.nn import functional as F

__all__ = ["DropBlock2d", "DropConnect", "Dropout", "Dropout1d", "Dropout2d"]


# --8<-- [start:dropout_modules]
class _DropoutNd(torch.nn.Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{type(self).__name__} expects p in [0, 1] (the probability of dropping), "
                f"got {p}"
            )
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p``; scale the rest by ``1/(1 − p)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` with probability ``p``."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


# --8<-- [end:dropout_modules]


# --8<-- [start:drop_connect_module]
class DropConnect(torch.nn.Module):
    """Wrap a ``Linear`` (``module``) and drop its **weights** with probability ``p`` in
    training: ``y = x (W ⊙ M / (1 − p))ᵀ + b``, one mask ``M`` per forward; eval: ``module(x)``.

    Shapes: as the wrapped ``Linear``: ``(*, in_features)`` to ``(*, out_features)``.
    """

    def __init__(self, module, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"DropConnect expects p in [0, 1] (the probability of dropping), got {p}"
            )
        self.module, self.p = module, p

    def forward(self, input):
        weight = F.drop_connect(self.module.weight, self.p, self.training)
        return F.linear(input, weight, self.module.bias)

    def extra_repr(self):
        return f"p={self.p}"


# --8<-- [end:drop_connect_module]


# --8<-- [start:drop_block_module]
class DropBlock2d(torch.nn.Module):
    """DropBlock on ``(N, C, H, W)``: drop ``block_size``-wide squares so that about a fraction
    ``p`` of each map is dropped (``torchvision.ops.DropBlock2d``'s arguments and semantics)."""

    def __init__(self, p, block_size, inplace=False, eps=1e-6):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"DropBlock2d expects p in [0, 1] (the probability of dropping), got {p}"
            )
        self.p, self.block_size, self.inplace, self.eps = p, block_size, inplace, eps

    def forward(self, input):
        return F.drop_block2d(
            input, self.p, self.block_size, self.inplace, self.eps, self.training
        )

    def extra_repr(self):
        return f"p={self.p}, block_size={self.block_size}, inplace={self.inplace}"


# --8<-- [end:drop_block_module]
