"""Loss modules: each stores its options and calls its formula in ``byhand.nn.functional``.

Constructors take PyTorch's arguments in PyTorch's order, including the deprecated
``size_average`` / ``reduce`` flags (turned into ``reduction`` as PyTorch does). Tensors such as
``weight`` and ``pos_weight`` are buffers, so they follow ``.to()`` and sit in the state_dict
under PyTorch's keys.
"""

import torch

from byhand.nn import functional as F

__all__ = [
    "MSELoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "MarginRankingLoss",
    "HingeEmbeddingLoss",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
    "FocalLoss",
    "QuantileLoss",
    "ContrastiveLoss",
    "TripletMiningLoss",
    "NTXentLoss",
]


class _Loss(torch.nn.Module):
    """Holds ``reduction`` (checked), resolved from the deprecated flags when they are given."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", allowed=F.REDUCTIONS):
        super().__init__()
        reduction = F.legacy_reduction(size_average, reduce, reduction)
        if reduction not in allowed:
            raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
        self.reduction = reduction


# --8<-- [start:mse]
class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2`` with ``reduction`` ``'mean'`` | ``'sum'`` |
    ``'none'``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


# --8<-- [end:mse]


# --8<-- [start:cross_entropy]
class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits ``(N, C)`` / ``(N, C, d1, ...)`` against class indices or
    probabilities.

    Same arguments as ``torch.nn.CrossEntropyLoss``: ``weight`` (a buffer, so it follows
    ``.to()`` and appears in the state_dict under the same key), ``ignore_index``,
    ``reduction``, ``label_smoothing``.
    """

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index=-100,
        reduce=None,
        reduction="mean",
        label_smoothing=0.0,
    ):
        super().__init__(size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
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


# --8<-- [start:classification]
class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities ``(N, C, d1, ...)`` at class indices."""

    def __init__(
        self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in ``[0, 1]``; ``weight`` broadcasts.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, with ``weight`` and per-class ``pos_weight``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; ``pos_weight`` ``(C,)`` broadcasts along
    the last axis; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(
        self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """``KL(target ‖ exp(input))``; ``reduction='batchmean'`` is the per-sample divergence.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction, F.REDUCTIONS + ("batchmean",))
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


# --8<-- [end:classification]


# --8<-- [start:regression]
class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``½ r² / β`` below ``β``, ``|r| - ½ β`` above; ``beta=0`` is L1.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``½ r²`` below ``δ``, ``δ (|r| - ½ δ)`` above.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class QuantileLoss(_Loss):
    """Pinball loss, one quantile ``τ`` or several (``input`` ``(*, Q)``). No PyTorch twin."""

    def __init__(self, quantiles=0.5, reduction="mean"):
        super().__init__(reduction=reduction)
        self.quantiles = tuple(quantiles) if isinstance(quantiles, (list, tuple)) else quantiles

    def forward(self, input, target):
        return F.quantile_loss(input, target, self.quantiles, self.reduction)


# --8<-- [end:regression]


# --8<-- [start:embedding]
class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)``.

    Shapes: ``input1``, ``input2``, ``target`` ``(N,)`` or ``()``; a scalar, or ``(N,)`` for
    ``'none'``.
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(
            input1, input2, target, self.margin, reduction=self.reduction
        )


class HingeEmbeddingLoss(_Loss):
    """``x`` for ``y = 1``, ``max(0, margin - x)`` for ``y = -1``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos`` for ``y = 1``, ``max(0, cos - margin)`` for ``y = -1``.

    Shapes: ``input1``, ``input2`` ``(N, D)`` or ``(D,)``, ``target`` ``(N,)`` or ``()``; a
    scalar, or ``(N,)`` for ``'none'``.
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(
            input1, input2, target, self.margin, reduction=self.reduction
        )


class TripletMarginLoss(_Loss):
    """``max(0, d(a, p) - d(a, n) + margin)`` with the ``p``-norm distance.

    Shapes: ``anchor``, ``positive``, ``negative`` ``(N, D)`` or ``(D,)``; a scalar, or ``(N,)``
    for ``'none'``.
    """

    def __init__(
        self,
        margin=1.0,
        p=2.0,
        eps=1e-6,
        swap=False,
        size_average=None,
        reduce=None,
        reduction="mean",
    ):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss expects margin > 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            self.margin,
            self.p,
            self.eps,
            self.swap,
            reduction=self.reduction,
        )


class ContrastiveLoss(_Loss):
    """Pairs ``(x1, x2, y)``: ``½ y d² + ½ (1 - y) max(0, margin - d)²``. No PyTorch twin.

    Shapes: ``input1``, ``input2`` ``(N, D)``, ``target`` ``(N,)``; a scalar, or ``(N,)`` for
    ``'none'``.
    """

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin < 0:
            raise ValueError(f"ContrastiveLoss expects margin >= 0, got {margin}")
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.contrastive_loss(input1, input2, target, self.margin, self.reduction)


class TripletMiningLoss(_Loss):
    """Batch-hard triplet loss, embeddings ``(N, D)`` and labels ``(N,)``. No PyTorch twin."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin < 0:
            raise ValueError(f"TripletMiningLoss expects margin >= 0, got {margin}")
        self.margin = margin

    def forward(self, input, target):
        return F.triplet_mining_loss(input, target, self.margin, self.reduction)


class NTXentLoss(_Loss):
    """SimCLR's NT-Xent for two views ``(N, D)``. No PyTorch twin."""

    def __init__(self, temperature=0.5, reduction="mean"):
        super().__init__(reduction=reduction)
        if temperature <= 0:
            raise ValueError(f"NTXentLoss expects temperature > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, input1, input2):
        return F.nt_xent_loss(input1, input2, self.temperature, self.reduction)


# --8<-- [end:embedding]


# --8<-- [start:focal]
class FocalLoss(_Loss):
    """``-α_t (1 - p_t)^γ log p_t``: binary (float targets) or multi-class (class indices).

    ``alpha``: ``None``, a float in ``[0, 1]`` (binary: α on positives, 1 - α on negatives) or
    a ``(C,)`` tensor of class weights (multi-class; a buffer). No PyTorch twin.
    """

    def __init__(self, alpha=None, gamma=2.0, reduction="mean"):
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"FocalLoss expects gamma >= 0, got {gamma}")
        if isinstance(alpha, torch.Tensor):
            self.register_buffer("alpha", alpha)
        else:
            self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target):
        return F.focal_loss(input, target, self.alpha, self.gamma, self.reduction)


# --8<-- [end:focal]
