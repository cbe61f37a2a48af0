"""Losses and the ``reduction`` they share."""

import warnings

import torch
from torch.compiler import is_compiling as compiling

from byhand.nn.functional.activation import (
    expect_floating,
    log_softmax,
    logsigmoid,
    relu,
    sigmoid,
)

__all__ = [
    "REDUCTIONS",
    "check_reduction",
    "legacy_reduction",
    "reduce",
    "check_same_shape",
    "mse_loss",
    "nll_loss",
    "cross_entropy",
    "BCE_EPSILON",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "pairwise_distance",
    "triplet_margin_loss",
    "focal_loss",
    "quantile_loss",
    "contrastive_loss",
    "pairwise_distances",
    "triplet_mining_loss",
    "nt_xent_loss",
]

REDUCTIONS = ("none", "mean", "sum")


# --8<-- [start:reduce]
def check_reduction(reduction):
    """Raise ``ValueError`` unless ``reduction`` is ``'none'``, ``'mean'`` or ``'sum'``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce(loss, reduction):
    """Apply ``reduction`` (``'none'`` | ``'mean'`` | ``'sum'``) to an element-wise loss.

    Shapes: ``loss`` ``(*)``; a scalar for ``'mean'``/``'sum'``, ``(*)`` for ``'none'``.
    """
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def legacy_reduction(size_average, reduce_, reduction):
    """``reduction`` from PyTorch's deprecated ``size_average`` / ``reduce`` flags, if given."""
    if size_average is None and reduce_ is None:
        return reduction
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction instead.",
        stacklevel=3,
    )
    if reduce_ is False:
        return "none"
    return "sum" if size_average is False else "mean"


_reduce = reduce  # for the functions whose own ``reduce`` argument (legacy) hides this one


def _weighted(loss, weight, reduction, mean_over_weight=True):
    """``weight · loss`` reduced (PyTorch's ``weight=`` on the regression losses, of the
    input's shape); ``'mean'`` divides by ``Σ weight`` (``mse_loss``, ``l1_loss``) or, with
    ``mean_over_weight=False``, by the number of terms (``huber_loss``), as PyTorch does."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != loss.shape:
        raise ValueError(
            f"weight must have the input's shape {tuple(loss.shape)}, got {tuple(weight.shape)}"
        )
    check_reduction(reduction)
    loss = loss * weight
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def check_floating(name, input, target):
    """Refuse integer inputs and a target of another floating dtype (PyTorch: RuntimeError)."""
    if not input.is_floating_point():
        raise RuntimeError(f"{name} expects a floating-point input, got {input.dtype}")
    if target.is_floating_point() and target.dtype != input.dtype:
        raise RuntimeError(
            f"{name} expects target of the input's dtype {input.dtype}, got {target.dtype}"
        )


def check_same_shape(name, *tensors):
    """Refuse silent broadcasting: every tensor must have the shape of the first."""
    shapes = [tuple(t.shape) for t in tensors]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(
            f"{name} expects tensors of the same shape, got "
            + " and ".join(str(shape) for shape in shapes)
        )


# --8<-- [end:reduce]


# --8<-- [start:mse_loss]
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``(input - target)^2``, reduced. Shapes must match exactly (no silent broadcasting).

    ``weight`` (the input's shape) scales each term; ``'mean'`` then divides by ``Σ weight``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input.shape != target.shape:
        raise ValueError(
            "mse_loss expects input and target of the same shape, "
            f"got {tuple(input.shape)} and {tuple(target.shape)}"
        )
    return _weighted((input - target) ** 2, weight, reduction)


# --8<-- [end:mse_loss]


# --8<-- [start:class_targets]
def _class_layout(name, input):
    """``(class_dim, C)`` of scores ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``."""
    if input.dim() == 0:
        raise ValueError(
            f"{name} expects input of shape (C,), (N, C) or (N, C, d1, ...), got a scalar"
        )
    class_dim = 0 if input.dim() == 1 else 1
    return class_dim, input.shape[class_dim]


def _class_indices(name, input, target, weight, ignore_index):
    """Check integer class ``target`` against ``input``; ``(safe_target, w_target)``.

    ``safe_target`` has ignored entries replaced by class 0 (so indexing never fails) and
    ``w_target`` is ``weight[y_n]``, 0 where the target is ignored.
    """
    class_dim, num_classes = _class_layout(name, input)
    if not input.is_floating_point():
        raise NotImplementedError(f"{name} expects floating-point scores, got {input.dtype}")
    if target.dtype not in (torch.int64, torch.uint8):  # PyTorch takes Long or Byte only
        raise RuntimeError(
            f"{name} expects class indices of dtype int64 (or uint8) as target, "
            f"got {target.dtype}"
        )
    target = target.long()
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"{name} with class indices expects target of shape "
            f"{tuple(expected)} for input {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    if weight is not None and weight.shape != (num_classes,):
        raise ValueError(
            f"{name} expects weight of shape ({num_classes},), got {tuple(weight.shape)}"
        )
    keep = target != ignore_index
    safe_target = torch.where(keep, target, torch.zeros_like(target))
    # reading values breaks a compiled graph: compiled, the indexing's own bounds check stays
    if not compiling() and bool(((safe_target < 0) | (safe_target >= num_classes)).any()):
        bad = target[keep & ((target < 0) | (target >= num_classes))][0].item()
        raise IndexError(f"{name} target {bad} is out of range for {num_classes} classes")
    if weight is None:
        w_target = keep.to(input.dtype)
    else:
        w_target = weight.to(input.dtype)[safe_target] * keep.to(input.dtype)
    return safe_target, w_target, target


def _weighted_mean(loss, w_target):
    """``Σ loss / Σ w``. When every target is ignored ``Σ w = 0``: PyTorch returns NaN and a
    zero gradient. Dividing by 0 would give a NaN gradient too, so divide by 1 and put NaN in
    after."""
    total = w_target.sum()
    nonzero = total != 0
    mean = loss.sum() / torch.where(nonzero, total, torch.ones_like(total))
    return torch.where(nonzero, mean, torch.full_like(mean, float("nan")))


# --8<-- [end:class_targets]


# --8<-- [start:nll_loss]
def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    """``-w[y_n] · input[n, y_n]`` for log-probabilities ``input`` ``(N, C, d1, ...)``.

    ``'mean'`` divides by ``Σ_n w[y_n]`` over the targets not ignored.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    safe_target, w_target, target = _class_indices(
        "nll_loss", input, target, weight, ignore_index
    )
    class_dim, _ = _class_layout("nll_loss", input)
    picked = input.movedim(class_dim, -1).gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)
    loss = -w_target * picked
    if reduction == "mean":
        return _weighted_mean(loss, w_target)
    return _reduce(loss, reduction)


# --8<-- [end:nll_loss]


# --8<-- [start:cross_entropy]
def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """Cross-entropy between logits ``input`` and ``target``.

    ``input`` is ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``. ``target`` holds either
    class indices (integer, shape ``(N,)``, ``(N, d1, ...)`` or ``()``) or class probabilities
    (floating, same shape as ``input``). With label smoothing ``ε`` the target distribution is
    ``(1 - ε) · target + ε / C`` — ε is spread over **all** C classes, as in PyTorch.

    For class indices this is :func:`nll_loss` of ``log_softmax(input)``; ``'mean'`` divides by
    ``Σ_n w[y_n]`` over the targets not ignored. For probabilities it divides by the number of
    samples.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if not input.is_floating_point():
        raise NotImplementedError(f"cross_entropy expects floating logits, got {input.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim, num_classes = _class_layout("cross_entropy", input)
    if weight is not None and weight.shape != (num_classes,):
        raise ValueError(
            f"cross_entropy expects weight of shape ({num_classes},), got {tuple(weight.shape)}"
        )
    # --8<-- [start:core_cross_entropy]
    logp = log_softmax(input, dim=class_dim)
    w = logp.new_ones(num_classes) if weight is None else weight.to(logp.dtype)
    w_shape = [1] * logp.dim()
    w_shape[class_dim] = num_classes

    if target.is_floating_point():
        if ignore_index != -100:
            raise RuntimeError("cross_entropy: ignore_index is not supported for probabilities")
        if target.shape != input.shape:
            raise ValueError(
                "cross_entropy with probability targets expects target of shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        probs = target
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + label_smoothing / num_classes
        loss = -(probs * logp * w.reshape(w_shape)).sum(dim=class_dim)
        # 'mean' over samples, as PyTorch does for probabilities
        return _reduce(loss, reduction)
    # --8<-- [end:core_cross_entropy]

    safe_target, w_target, target = _class_indices(
        "cross_entropy", input, target, weight, ignore_index
    )
    loss = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction="none")
    if label_smoothing > 0:
        # The smoothing term: ε/C · Σ_c w_c · (-log p_c), zero where the target is ignored.
        keep = (target != ignore_index).to(logp.dtype)
        smooth = -(logp * w.reshape(w_shape)).sum(dim=class_dim) * keep
        loss = (1 - label_smoothing) * loss + label_smoothing / num_classes * smooth
    if reduction == "mean":
        return _weighted_mean(loss, w_target)
    return _reduce(loss, reduction)


# --8<-- [end:cross_entropy]


# --8<-- [start:binary_cross_entropy]
# PyTorch's backward divides by max(x (1 - x), 1e-12) with 1e-12 a float32 constant, in float64
# too: we use the same number.
BCE_EPSILON = 9.999999960041972e-13  # float(torch.tensor(1e-12, dtype=torch.float32))


class BinaryCrossEntropy(torch.autograd.Function):
    """``-w [y log x + (1 - y) log(1 - x)]`` element-wise, each log clamped at -100.

    The backward is written out as PyTorch's: ``w (x - y) / max(x (1 - x), 1e-12)`` for the
    input, ``w (log(1 - x) - log x)`` for the target. Autograd of the clamped logs would give a
    NaN gradient at ``x = 0`` or ``1`` instead (``0 · ∞``).
    """

    @staticmethod
    def forward(ctx, input, target, weight):
        log_x = torch.clamp(torch.log(input), min=-100)
        log_1mx = torch.clamp(torch.log1p(-input), min=-100)
        ctx.save_for_backward(input, target, weight)
        return -weight * (target * log_x + (1 - target) * log_1mx)

    @staticmethod
    def backward(ctx, grad_output):
        x, y, w = ctx.saved_tensors
        grad_input = grad_output * w * (x - y) / torch.clamp(x * (1 - x), min=BCE_EPSILON)
        grad_target = grad_output * w * (torch.log1p(-x) - torch.log(x))
        return grad_input, grad_target, None


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """Binary cross-entropy of probabilities ``input`` in ``[0, 1]`` against ``target`` in
    ``[0, 1]``; anything else (NaN included) is a RuntimeError, as in PyTorch.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    check_same_shape("binary_cross_entropy (input, target)", input, target)
    check_floating("binary_cross_entropy", input, target)
    for label, values in (("input", input), ("target", target)):
        outside = ~((values >= 0) & (values <= 1))  # NaN is outside too
        if not compiling() and bool(outside.any()):  # eager only: no graph break
            raise RuntimeError(
                f"binary_cross_entropy expects {label} probabilities in [0, 1], got "
                f"{values[outside][0].item()}"
                + (
                    "; for logits use binary_cross_entropy_with_logits"
                    if label == "input"
                    else ""
                )
            )
    weight = torch.ones_like(input) if weight is None else weight.to(input.dtype)
    weight = weight.expand_as(input)
    return _reduce(BinaryCrossEntropy.apply(input, target, weight), reduction)


# --8<-- [end:binary_cross_entropy]


# --8<-- [start:binary_cross_entropy_with_logits]
def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    """``-w [p y log σ(x) + (1 - y) log(1 - σ(x))]`` from logits ``x``, never overflowing.

    With ``log(1 - σ(x)) = log σ(x) - x`` both terms share the stable :func:`logsigmoid`:
    ``loss = (1 - y) x - (1 + (p - 1) y) log σ(x)``. ``pos_weight`` ``p`` (one per class, the
    last dimension) scales the positive term only. At ``x = +inf`` the first term alone is
    ``(1 - y) · inf`` (``inf`` for ``y < 1``, as PyTorch) and the second is 0, so it is not
    multiplied when ``y = 1``.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    check_same_shape("binary_cross_entropy_with_logits (input, target)", input, target)
    expect_floating("binary_cross_entropy_with_logits", input)
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    positive = (1 - target) * torch.clamp(input, max=torch.finfo(input.dtype).max)
    at_inf = (1 - target) * torch.clamp(input, min=0)  # the branch picked only at +inf
    loss = torch.where(input == float("inf"), at_inf, positive)
    loss = loss - log_weight * logsigmoid(input)
    if weight is not None:
        loss = weight * loss
    return _reduce(loss, reduction)


# --8<-- [end:binary_cross_entropy_with_logits]


# --8<-- [start:kl_div]
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """``KL(target ‖ q)`` for log-probabilities ``input = log q``: ``y (log y - input)``.

    ``0 · log 0`` is taken as 0 (``xlogy``). ``log_target=True`` takes ``target`` as
    ``log y``: ``e^t (t - input)``. ``'batchmean'`` divides the sum by the batch size
    ``input.size(0)`` — the true KL divergence per sample; ``'mean'`` divides by every element.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if not input.is_floating_point() or not target.is_floating_point():
        raise RuntimeError(f"kl_div expects floating inputs, got {input.dtype}, {target.dtype}")
    if reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(
            f"reduction must be one of {REDUCTIONS + ('batchmean',)}, got {reduction!r}"
        )
    check_same_shape("kl_div (input, target)", input, target)
    if log_target:
        loss = torch.exp(target) * (target - input)
    else:
        loss = torch.xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.dim() > 0 else total
    return _reduce(loss, reduction)


# --8<-- [end:kl_div]


# --8<-- [start:regression]
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``|input - target|``: its minimiser is the median. ``weight`` as in :func:`mse_loss`.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_same_shape("l1_loss (input, target)", input, target)
    return _weighted((input - target).abs(), weight, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``½ r²`` for ``|r| ≤ δ``, else ``δ (|r| - ½ δ)``: quadratic near 0, linear beyond δ.

    ``δ`` stays a Python number: a ``torch.tensor(delta)`` made here would sit on the CPU
    whatever device the input is on.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    check_same_shape("huber_loss (input, target)", input, target)
    if not input.is_floating_point():
        raise RuntimeError(f"huber_loss expects a floating-point input, got {input.dtype}")
    target = target.to(input.dtype)  # the loss has the input's dtype, as PyTorch's
    if delta <= 0:
        raise ValueError(f"huber_loss expects delta > 0, got {delta}")
    return _weighted(_huber(input, target, delta), weight, reduction, mean_over_weight=False)


def _huber(input, target, delta):
    r = (input - target).abs()
    quadratic = torch.clamp(r, max=delta)  # |r| up to δ, then δ
    return quadratic * (r - 0.5 * quadratic)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Huber divided by ``β``: ``½ r² / β`` for ``|r| < β``, else ``|r| - ½ β``; ``β = 0`` is
    :func:`l1_loss` (PyTorch's special case, instead of dividing by 0).

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_same_shape("smooth_l1_loss (input, target)", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss expects beta >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _reduce(_huber(input, target, beta) / beta, reduction)


# --8<-- [end:regression]


# --8<-- [start:ranking]
def _check_targets(name, target, allowed):
    """``target`` holds only ``allowed`` values (e.g. ``(1, -1)``)."""
    bad = ~sum((target == value) for value in allowed).bool()
    if not compiling() and bool(bad.any()):  # eager only: no graph break
        raise ValueError(
            f"{name} expects target values in {allowed}, got {target[bad][0].item()}"
        )


def margin_ranking_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` wants ``x1`` ranked above ``x2`` by
    ``margin``, ``y = -1`` the other way round.

    Shapes: ``input1``, ``input2``, ``target`` ``(N,)`` or ``()``; a scalar, or ``(N,)`` for
    ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_same_shape("margin_ranking_loss (input1, input2, target)", input1, input2, target)
    # clamp, not relu: at a NaN PyTorch's max(·, 0) passes no gradient
    return _reduce(torch.clamp(-target * (input1 - input2) + margin, min=0), reduction)


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1`` (``input`` a distance).

    As in PyTorch, a target that is neither 1 nor -1 gets both terms.

    Shapes: ``input`` and ``target`` ``(*)``, the same; a scalar, or ``(*)`` for ``'none'``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_same_shape("hinge_embedding_loss (input, target)", input, target)
    if not input.is_floating_point():
        raise RuntimeError(f"hinge_embedding_loss expects a floating input, got {input.dtype}")
    zeros = torch.zeros_like(input)
    hinge = torch.where(target != 1, torch.clamp(margin - input, min=0), zeros)
    same = torch.where(target != -1, input, zeros)
    return _reduce(hinge + same, reduction)


def cosine_embedding_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``.

    ``input1``, ``input2`` are ``(N, D)`` (or ``(D,)`` with a scalar ``target``). The squared
    norms get ``1e-12`` added before the square root, as PyTorch does.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_same_shape("cosine_embedding_loss (input1, input2)", input1, input2)
    if input1.dim() not in (1, 2) or target.dim() != input1.dim() - 1:
        raise ValueError(
            "cosine_embedding_loss expects inputs (N, D) with target (N,) or (D,) with a "
            f"scalar target, got {tuple(input1.shape)} and target {tuple(target.shape)}"
        )
    if input1.dim() == 2 and target.shape[0] != input1.shape[0]:
        raise ValueError(
            f"cosine_embedding_loss: batch sizes differ, {input1.shape[0]} inputs and "
            f"{target.shape[0]} targets"
        )
    eps = 1e-12
    dot = (input1 * input2).sum(-1)
    cos = dot / torch.sqrt(
        ((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)
    )
    zeros = torch.zeros_like(cos)
    loss = torch.where(target == 1, 1 - cos, zeros) + torch.where(
        target == -1, relu(cos - margin), zeros
    )
    return _reduce(loss, reduction)


# --8<-- [end:ranking]


# --8<-- [start:triplet_margin_loss]
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``‖x1 - x2 + eps‖_p`` along the last dimension (``eps`` keeps the norm off 0).

    Shapes: ``x1``, ``x2`` ``(N, D)`` or ``(D,)``; returns ``(N,)`` (``(N, 1)`` with
    ``keepdim``).
    """
    v = (x1 - x2 + eps).abs()
    return (v**p).sum(dim=-1, keepdim=keepdim) ** (1 / p)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2.0,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """``max(0, d(a, p) - d(a, n) + margin)`` for rows ``(N, D)`` (or one triplet ``(D,)``).

    ``swap=True`` uses ``min(d(a, n), d(p, n))`` as the negative distance (Balntas et al.).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss expects margin > 0, got {margin}")
    check_same_shape(
        "triplet_margin_loss (anchor, positive, negative)", anchor, positive, negative
    )
    if anchor.dim() not in (1, 2):
        raise ValueError(
            f"triplet_margin_loss expects (N, D) or (D,) inputs, got {tuple(anchor.shape)}"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(torch.clamp(margin + d_pos - d_neg, min=0), reduction)


# --8<-- [end:triplet_margin_loss]


# --8<-- [start:focal_loss]
def focal_loss(input, target, alpha=None, gamma=2.0, reduction="mean"):
    """Focal loss ``-α_t (1 - p_t)^γ log p_t`` (Lin et al., RetinaNet).

    Binary when ``target`` is floating (same shape as the logits ``input``): ``p = σ(x)``,
    ``p_t = p`` where ``y = 1`` and ``1 - p`` where ``y = 0``, and ``α_t = α`` on positives,
    ``1 - α`` on negatives (``alpha=None``: no weighting). Multi-class when ``target`` holds
    class indices for logits ``(N, C, d1, ...)``: ``p_t`` is the softmax probability of the
    target class and ``alpha`` is ``None`` or a ``(C,)`` weight per class; ``'mean'`` then
    divides by ``Σ α_t`` like :func:`cross_entropy`. ``γ = 0`` and no ``alpha`` gives back
    binary and ordinary cross-entropy.
    """
    check_reduction(reduction)
    if gamma < 0:
        raise ValueError(f"focal_loss expects gamma >= 0, got {gamma}")
    if target.is_floating_point():
        check_same_shape("focal_loss (input, target)", input, target)
        p = sigmoid(input)
        p_t = p * target + (1 - p) * (1 - target)
        log_p_t = target * logsigmoid(input) + (1 - target) * logsigmoid(-input)
        loss = -((1 - p_t) ** gamma) * log_p_t
        if alpha is not None:
            if not 0 <= alpha <= 1:
                raise ValueError(f"binary focal_loss expects alpha in [0, 1], got {alpha}")
            loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
        return reduce(loss, reduction)

    if alpha is not None and not isinstance(alpha, torch.Tensor):
        raise TypeError(
            "multi-class focal_loss expects alpha None or a (C,) tensor of class weights, "
            f"got {type(alpha).__name__}"
        )
    safe_target, w_target, _ = _class_indices("focal_loss", input, target, alpha, -100)
    class_dim, _ = _class_layout("focal_loss", input)
    logp = log_softmax(input, dim=class_dim).movedim(class_dim, -1)
    log_p_t = logp.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)
    loss = -w_target * (1 - torch.exp(log_p_t)) ** gamma * log_p_t
    if reduction == "mean":
        return _weighted_mean(loss, w_target)
    return reduce(loss, reduction)


# --8<-- [end:focal_loss]


# --8<-- [start:quantile_loss]
def quantile_loss(input, target, quantiles=0.5, reduction="mean"):
    """Pinball loss ``max(τ r, (τ - 1) r)`` with residual ``r = target - input``.

    One quantile ``τ``: ``input`` and ``target`` of the same shape. Several (a sequence of Q):
    ``input`` is ``(*, Q)``, one prediction per quantile, and ``target`` is ``(*)``. Its
    minimiser is the τ-quantile; ``τ = ½`` gives ``½ |r|``.
    """
    several = isinstance(quantiles, (list, tuple))
    taus = list(quantiles) if several else [quantiles]
    if not taus or any(not 0 < tau < 1 for tau in taus):
        raise ValueError(f"quantile_loss expects quantiles in (0, 1), got {quantiles}")
    if several:
        if tuple(input.shape) != (*target.shape, len(taus)):
            raise ValueError(
                f"quantile_loss with {len(taus)} quantiles expects input of shape "
                f"{(*target.shape, len(taus))} for target {tuple(target.shape)}, "
                f"got {tuple(input.shape)}"
            )
        target = target.unsqueeze(-1)
    else:
        check_same_shape("quantile_loss (input, target)", input, target)
    tau = torch.tensor(taus if several else taus[0], dtype=input.dtype, device=input.device)
    r = target - input
    return reduce(torch.maximum(tau * r, (tau - 1) * r), reduction)


# --8<-- [end:quantile_loss]


# --8<-- [start:contrastive_loss]
def _safe_sqrt(squared):
    """``√s`` with gradient 0 (not ``∞ · 0 = NaN``) where ``s = 0``."""
    positive = squared > 0
    return torch.where(positive, torch.where(positive, squared, 1).sqrt(), 0)


def contrastive_loss(input1, input2, target, margin=1.0, reduction="mean"):
    """``½ y d² + ½ (1 - y) max(0, margin - d)²`` with ``d = ‖x1 - x2‖`` per row (Hadsell et
    al., 2006): similar pairs (``y = 1``) pulled together, dissimilar ones (``y = 0``) pushed
    to at least ``margin`` apart. ``input1``, ``input2`` are ``(N, D)``, ``target`` ``(N,)``.
    """
    if margin < 0:
        raise ValueError(f"contrastive_loss expects margin >= 0, got {margin}")
    check_same_shape("contrastive_loss (input1, input2)", input1, input2)
    if input1.dim() != 2 or target.shape != input1.shape[:1]:
        raise ValueError(
            f"contrastive_loss expects inputs (N, D) and target (N,), got "
            f"{tuple(input1.shape)} and target {tuple(target.shape)}"
        )
    _check_targets("contrastive_loss", target, (0, 1))
    y = target.to(input1.dtype)
    squared = ((input1 - input2) ** 2).sum(dim=-1)
    hinge = relu(margin - _safe_sqrt(squared))
    return reduce(0.5 * y * squared + 0.5 * (1 - y) * hinge**2, reduction)


# --8<-- [end:contrastive_loss]


# --8<-- [start:triplet_mining_loss]
def pairwise_distances(input):
    """Euclidean distances ``(N, N)`` between the rows of ``input`` ``(N, D)``, from
    ``‖a‖² + ‖b‖² - 2 a·b``, with a gradient of 0 (not NaN) where a distance is 0 (the
    diagonal: each row to itself)."""
    squared_norms = (input * input).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2 * input @ input.T
    return _safe_sqrt(torch.clamp(squared, min=0))


def triplet_mining_loss(input, target, margin=1.0, reduction="mean"):
    """Batch-hard triplet loss (Hermans et al., 2017) over embeddings ``(N, D)`` with labels
    ``(N,)``: for each anchor, its farthest positive and nearest negative in the batch,
    ``max(0, d(a, p_hard) - d(a, n_hard) + margin)``.

    Anchors without a positive or without a negative in the batch are left out; ``'mean'``
    averages over the others (0 if there are none).
    """
    check_reduction(reduction)
    if margin < 0:
        raise ValueError(f"triplet_mining_loss expects margin >= 0, got {margin}")
    if input.dim() != 2 or target.shape != input.shape[:1]:
        raise ValueError(
            "triplet_mining_loss expects embeddings (N, D) and labels (N,), got "
            f"{tuple(input.shape)} and {tuple(target.shape)}"
        )
    d = pairwise_distances(input)
    same = target[:, None] == target[None, :]
    itself = torch.eye(len(target), dtype=torch.bool, device=input.device)
    positive, negative = same & ~itself, ~same
    hardest_positive = torch.where(positive, d, torch.zeros_like(d)).amax(dim=1)
    hardest_negative = torch.where(negative, d, torch.full_like(d, float("inf"))).amin(dim=1)
    valid = positive.any(dim=1) & negative.any(dim=1)
    loss = relu(hardest_positive - torch.where(valid, hardest_negative, 0) + margin)
    loss = loss * valid.to(loss.dtype)
    if reduction == "mean":
        return loss.sum() / valid.sum().clamp(min=1)
    if reduction == "none":
        return loss
    return loss.sum()


# --8<-- [end:triplet_mining_loss]


# --8<-- [start:nt_xent_loss]
def nt_xent_loss(input1, input2, temperature=0.5, reduction="mean"):
    """NT-Xent (SimCLR, Chen et al., 2020) for two views ``(N, D)`` of the same N samples.

    The 2N embeddings are L2-normalised; row ``i``'s positive is the other view of the same
    sample, its negatives the other ``2N - 2`` rows. Loss per row: cross-entropy over the
    cosine similarities ``/ temperature``, the row itself left out.
    """
    if temperature <= 0:
        raise ValueError(f"nt_xent_loss expects temperature > 0, got {temperature}")
    check_same_shape("nt_xent_loss (input1, input2)", input1, input2)
    if input1.dim() != 2:
        raise ValueError(f"nt_xent_loss expects two (N, D) views, got {tuple(input1.shape)}")
    n = input1.shape[0]
    z = torch.cat([input1, input2])
    z = z / torch.clamp(_safe_sqrt((z * z).sum(dim=1, keepdim=True)), min=1e-12)
    logits = (z @ z.T) / temperature
    itself = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(itself, float("-inf"))
    other_view = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return cross_entropy(logits, other_view, reduction=reduction)


# --8<-- [end:nt_xent_loss]
