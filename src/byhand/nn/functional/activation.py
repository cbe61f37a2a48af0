"""Element-wise activations and the softmax family, with derivatives where they teach."""

import torch

__all__ = [
    "relu",
    "relu_derivative",
    "minus_abs",
    "sigmoid",
    "sigmoid_derivative",
    "tanh",
    "tanh_derivative",
    "log_softmax",
    "softmax",
]


# --8<-- [start:relu]
def relu(input):
    """``max(x, 0)``; the gradient at exactly 0 is taken as 0, as PyTorch does."""
    x = input
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_derivative(input):
    """``1`` where ``x > 0``, else ``0``."""
    x = input
    return (x > 0).to(x.dtype)


# --8<-- [end:relu]


# --8<-- [start:minus_abs]
def minus_abs(input):
    """``-|x|``, with slope ``-1`` at ``x = 0`` as on the rest of ``x ≥ 0``.

    ``-x.abs()`` has the same values, but autograd gives ``abs`` slope 0 at 0, which would zero
    the gradient of every formula below at exactly the point where it is largest.
    """
    x = input
    return torch.where(x >= 0, -x, x)


# --8<-- [end:minus_abs]


# --8<-- [start:sigmoid]
def sigmoid(input):
    """``1 / (1 + e^{-x})``, evaluated without overflow for large ``|x|``.

    With ``e = e^{-|x|} ≤ 1`` neither branch overflows:
    ``σ(x) = 1 / (1 + e)`` for ``x ≥ 0`` and ``e / (1 + e)`` for ``x < 0``.
    """
    x = input
    e = torch.exp(minus_abs(x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(input):
    """``σ'(x) = σ(x) (1 - σ(x))``; at most 1/4, reached at 0."""
    x = input
    s = sigmoid(x)
    return s * (1 - s)


# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh(input):
    """``(e^x - e^{-x}) / (e^x + e^{-x})``, written with ``t = e^{-2|x|} ≤ 1`` so it never
    overflows:
    ``tanh(x) = ±(1 - t) / (1 + t)`` with the sign of ``x``."""
    x = input
    t = torch.exp(2 * minus_abs(x))
    magnitude = (1 - t) / (1 + t)
    return torch.where(x >= 0, magnitude, -magnitude)


def tanh_derivative(input):
    """``tanh'(x) = 1 - tanh(x)^2``; at most 1, reached at 0."""
    x = input
    return 1 - tanh(x) ** 2


# --8<-- [end:tanh]


# --8<-- [start:log_softmax]
def log_softmax(input, dim=-1):
    """``x_i - log Σ_j e^{x_j}``, shifted by the maximum so no ``e^x`` overflows."""
    shifted = input - input.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(input, dim=-1):
    """``e^{x_i} / Σ_j e^{x_j}``, via :func:`log_softmax` so it shares its stability."""
    return torch.exp(log_softmax(input, dim=dim))


# --8<-- [end:log_softmax]
