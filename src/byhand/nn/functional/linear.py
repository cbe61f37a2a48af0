"""Affine maps: ``linear``."""

__all__ = ["linear"]


# --8<-- [start:linear]
def linear(input, weight, bias=None):
    """``y = x Wᵀ + b`` for ``input`` (x) of shape ``(*, in)``, ``weight`` ``(out, in)``,
    ``bias`` ``(out,)``.
    """
    y = input @ weight.transpose(0, 1)
    if bias is not None:
        y = y + bias
    return y


# --8<-- [end:linear]
