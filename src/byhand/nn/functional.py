"""The stateless maths behind ``byhand.nn``: one place for each formula.

Every function takes and returns ``torch.Tensor`` and is built only from elementary tensor
operations (matmul, exp, log, max, ...), so autograd differentiates the formula written here,
not a fused PyTorch kernel. Where the derivative teaches something it is written out too
(``*_derivative``); the docs check those against autograd.
"""

import torch

REDUCTIONS = ("none", "mean", "sum")


# --- linear -----------------------------------------------------------------------------------
# --8<-- [start:linear]
def linear(x, weight, bias=None):
    """``y = x Wᵀ + b`` for ``x`` of shape ``(*, in)``, ``weight`` ``(out, in)``, ``bias`` ``(out,)``."""
    y = x @ weight.transpose(0, 1)
    if bias is not None:
        y = y + bias
    return y


# --8<-- [end:linear]


# --- activations ------------------------------------------------------------------------------
# --8<-- [start:relu]
def relu(x):
    """``max(x, 0)``; the gradient at exactly 0 is taken as 0, as PyTorch does."""
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_derivative(x):
    """``1`` where ``x > 0``, else ``0``."""
    return (x > 0).to(x.dtype)


# --8<-- [end:relu]


# --8<-- [start:minus_abs]
def minus_abs(x):
    """``-|x|``, with slope ``-1`` at ``x = 0`` as on the rest of ``x ≥ 0``.

    ``-x.abs()`` has the same values, but autograd gives ``abs`` slope 0 at 0, which would zero
    the gradient of every formula below at exactly the point where it is largest.
    """
    return torch.where(x >= 0, -x, x)


# --8<-- [end:minus_abs]


# --8<-- [start:sigmoid]
def sigmoid(x):
    """``1 / (1 + e^{-x})``, evaluated without overflow for large ``|x|``.

    With ``e = e^{-|x|} ≤ 1`` neither branch overflows:
    ``σ(x) = 1 / (1 + e)`` for ``x ≥ 0`` and ``e / (1 + e)`` for ``x < 0``.
    """
    e = torch.exp(minus_abs(x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(x):
    """``σ'(x) = σ(x) (1 - σ(x))``; at most 1/4, reached at 0."""
    s = sigmoid(x)
    return s * (1 - s)


# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh(x):
    """``(e^x - e^{-x}) / (e^x + e^{-x})``, written with ``t = e^{-2|x|} ≤ 1`` so it never overflows:
    ``tanh(x) = ±(1 - t) / (1 + t)`` with the sign of ``x``."""
    t = torch.exp(2 * minus_abs(x))
    magnitude = (1 - t) / (1 + t)
    return torch.where(x >= 0, magnitude, -magnitude)


def tanh_derivative(x):
    """``tanh'(x) = 1 - tanh(x)^2``; at most 1, reached at 0."""
    return 1 - tanh(x) ** 2


# --8<-- [end:tanh]


# --- softmax family ---------------------------------------------------------------------------
# --8<-- [start:log_softmax]
def log_softmax(x, dim=-1):
    """``x_i - log Σ_j e^{x_j}``, shifted by the maximum so no ``e^x`` overflows."""
    shifted = x - x.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(x, dim=-1):
    """``e^{x_i} / Σ_j e^{x_j}``, via :func:`log_softmax` so it shares its stability."""
    return torch.exp(log_softmax(x, dim=dim))


# --8<-- [end:log_softmax]


# --- losses -----------------------------------------------------------------------------------
# --8<-- [start:reduce]
def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce(loss, reduction):
    """Apply ``reduction`` (``'none'`` | ``'mean'`` | ``'sum'``) to an element-wise loss."""
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# --8<-- [end:reduce]


# --8<-- [start:mse_loss]
def mse_loss(input, target, reduction="mean"):
    """``(input - target)^2``, reduced. Shapes must match exactly (no silent broadcasting)."""
    if input.shape != target.shape:
        raise ValueError(
            f"mse_loss expects input and target of the same shape, got {tuple(input.shape)} and {tuple(target.shape)}"
        )
    return reduce((input - target) ** 2, reduction)


# --8<-- [end:mse_loss]


# --8<-- [start:cross_entropy]
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits ``input`` and ``target``.

    ``input`` is ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``. ``target`` holds either
    class indices (integer, shape ``(N,)``, ``(N, d1, ...)`` or ``()``) or class probabilities
    (floating, same shape as ``input``). With label smoothing ``ε`` the target distribution is
    ``(1 - ε) · target + ε / C`` — ε is spread over **all** C classes, as in PyTorch.

    For class indices, ``'mean'`` divides by the summed weight of the non-ignored targets
    ``Σ_n w[y_n]``; for probabilities it divides by the number of samples.
    """
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.dim() == 0:
        raise ValueError("cross_entropy expects input of shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    class_dim = 0 if input.dim() == 1 else 1
    num_classes = input.shape[class_dim]
    if weight is not None and weight.shape != (num_classes,):
        raise ValueError(f"cross_entropy expects weight of shape ({num_classes},), got {tuple(weight.shape)}")
    # Put the class axis last: (..., C). Every formula below then reads the same for all shapes.
    logp = log_softmax(input.movedim(class_dim, -1), dim=-1)
    w = torch.ones(num_classes, dtype=logp.dtype, device=logp.device) if weight is None else weight

    if target.is_floating_point():
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy with probability targets expects target of shape {tuple(input.shape)}, "
                f"got {tuple(target.shape)}"
            )
        probs = target.movedim(class_dim, -1)
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + label_smoothing / num_classes
        loss = -(probs * logp * w).sum(dim=-1)
        return reduce(loss, reduction)  # 'mean' over samples, as PyTorch does for probabilities

    if target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"cross_entropy expects integer class indices or float probabilities, got {target.dtype}")
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"cross_entropy with class indices expects target of shape {tuple(expected)} for input "
            f"{tuple(input.shape)}, got {tuple(target.shape)}"
        )
    keep = target != ignore_index
    safe_target = torch.where(keep, target, torch.zeros_like(target))
    if bool(((safe_target < 0) | (safe_target >= num_classes)).any()):
        bad = target[keep & ((target < 0) | (target >= num_classes))][0].item()
        raise IndexError(f"cross_entropy target {bad} is out of range for {num_classes} classes")
    w_target = w[safe_target] * keep.to(logp.dtype)  # w[y_n], zero where ignored
    nll = -logp.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)
    loss = w_target * nll
    if label_smoothing > 0:
        # The smoothing term: ε/C · Σ_c w_c · (-log p_c), also zero where ignored.
        smooth = -(logp * w).sum(dim=-1) * keep.to(logp.dtype)
        loss = (1 - label_smoothing) * loss + label_smoothing / num_classes * smooth
    if reduction == "mean":
        return loss.sum() / w_target.sum()
    return reduce(loss, reduction)


# --8<-- [end:cross_entropy]
