"""Loss modules: each stores its options and calls its formula in ``byhand.nn.functional``."""

import torch

from byhand.nn import functional as F

__all__ = ["MSELoss", "CrossEntropyLoss"]


# --8<-- [start:mse]
class MSELoss(torch.nn.Module):
    """Mean squared error ``(input - target)^2`` with ``reduction`` ``'mean'`` | ``'sum'`` |
    ``'none'``.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        F.check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


# --8<-- [end:mse]


# --8<-- [start:cross_entropy]
class CrossEntropyLoss(torch.nn.Module):
    """Cross-entropy of logits ``(N, C)`` / ``(N, C, d1, ...)`` against class indices or
    probabilities.

    Same arguments as ``torch.nn.CrossEntropyLoss``: ``weight`` (a buffer, so it follows
    ``.to()``
    and appears in the state_dict under the same key), ``ignore_index``, ``reduction``,
    ``label_smoothing``.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        F.check_reduction(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


# --8<-- [end:cross_entropy]
