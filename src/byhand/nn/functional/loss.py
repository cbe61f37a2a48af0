"""Losses and the ``reduction`` they share."""

import torch

from byhand.nn.functional.activation import log_softmax

__all__ = ["REDUCTIONS", "check_reduction", "reduce", "mse_loss", "cross_entropy"]

REDUCTIONS = ("none", "mean", "sum")


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
            "mse_loss expects input and target of the same shape, "
            f"got {tuple(input.shape)} and {tuple(target.shape)}"
        )
    return reduce((input - target) ** 2, reduction)


# --8<-- [end:mse_loss]


# --8<-- [start:cross_entropy]
def cross_entropy(
    input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
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
        raise ValueError(
            "cross_entropy expects input of shape (C,), (N, C) or (N, C, d1, ...), got a scalar"
        )
    class_dim = 0 if input.dim() == 1 else 1
    num_classes = input.shape[class_dim]
    if weight is not None and weight.shape != (num_classes,):
        raise ValueError(
            f"cross_entropy expects weight of shape ({num_classes},), got {tuple(weight.shape)}"
        )
    # Put the class axis last: (..., C). Every formula below then reads the same for all shapes.
    logp = log_softmax(input.movedim(class_dim, -1), dim=-1)
    w = (
        torch.ones(num_classes, dtype=logp.dtype, device=logp.device)
        if weight is None
        else weight
    )

    if target.is_floating_point():
        if target.shape != input.shape:
            raise ValueError(
                "cross_entropy with probability targets expects target of shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        probs = target.movedim(class_dim, -1)
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + label_smoothing / num_classes
        loss = -(probs * logp * w).sum(dim=-1)
        return reduce(loss, reduction)  # 'mean' over samples, as PyTorch does for probabilities

    if target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            "cross_entropy expects integer class indices or float probabilities, "
            f"got {target.dtype}"
        )
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if target.shape != expected:
        raise ValueError(
            "cross_entropy with class indices expects target of shape "
            f"{tuple(expected)} for input {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    keep = target != ignore_index
    safe_target = torch.where(keep, target, torch.zeros_like(target))
    if bool(((safe_target < 0) | (safe_target >= num_classes)).any()):
        bad = target[keep & ((target < 0) | (target >= num_classes))][0].item()
        raise IndexError(
            f"cross_entropy target {bad} is out of range for {num_classes} classes"
        )
    w_target = w[safe_target] * keep.to(logp.dtype)  # w[y_n], zero where ignored
    nll = -logp.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)
    loss = w_target * nll
    if label_smoothing > 0:
        # The smoothing term: ε/C · Σ_c w_c · (-log p_c), also zero where ignored.
        smooth = -(logp * w).sum(dim=-1) * keep.to(logp.dtype)
        loss = (1 - label_smoothing) * loss + label_smoothing / num_classes * smooth
    if reduction == "mean":
        # Σ w·loss / Σ w. When every target is ignored Σ w = 0: PyTorch returns NaN and a zero
        # gradient. Dividing by 0 would give a NaN gradient too, so divide by 1 and put NaN in
        # after.
        total = w_target.sum()
        nonzero = total != 0
        mean = loss.sum() / torch.where(nonzero, total, torch.ones_like(total))
        return torch.where(nonzero, mean, torch.full_like(mean, float("nan")))
    return reduce(loss, reduction)


# --8<-- [end:cross_entropy]
