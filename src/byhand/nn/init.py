"""Weight initialisation, written out. Mirrors ``torch.nn.init`` for the schemes byhand uses."""

import math
import warnings

import torch


def calculate_fan_in(tensor):
    """Inputs feeding one output unit: ``in_features`` for ``(out, in)``, ``in·kh·kw`` for conv
    weights.
    """
    if tensor.dim() < 2:
        raise ValueError(
            f"fan_in needs a weight with at least 2 dimensions, got shape {tuple(tensor.shape)}"
        )
    return tensor.shape[1] * math.prod(tensor.shape[2:])


def kaiming_uniform_(tensor, a=0.0):
    """Fill ``tensor`` from ``U(-b, b)`` with ``b = gain · √(3 / fan_in)`` and ``gain = √(2 / (1
    + a²))``.

    The variance of ``U(-b, b)`` is ``b²/3 = gain² / fan_in``: each output's variance stays
    ``gain²`` times the input's whatever the layer width. PyTorch's ``Linear`` and ``Conv``
    layers call this with ``a = √5``, which makes ``b = 1/√fan_in``.
    """
    if tensor.numel() == 0:  # nothing to fill (e.g. Linear(0, 3)); PyTorch warns and returns
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    gain = math.sqrt(2.0 / (1 + a**2))
    bound = gain * math.sqrt(3.0 / calculate_fan_in(tensor))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def uniform_(tensor, low, high):
    """Fill ``tensor`` from ``U(low, high)`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.uniform_(low, high)


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``: ``in·k`` and ``out·k``."""
    if tensor.dim() < 2:
        raise ValueError(
            f"fan_in/fan_out need a weight with at least 2 dimensions, "
            f"got {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def xavier_uniform_(tensor, gain=1.0):
    """Fill from ``U(-b, b)``, ``b = gain · √(6 / (fan_in + fan_out))`` (Glorot, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Fill from ``N(0, σ²)``, ``σ = gain · √(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.normal_(0.0, std)


def normal_(tensor, mean=0.0, std=1.0):
    """Fill from ``N(mean, std²)`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor, value):
    """Fill with ``value`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.fill_(value)


def __getattr__(name):
    """Every other ``torch.nn.init`` function (``kaiming_normal_``, ``zeros_``, ...) is
    PyTorch's own, so ``byhand.nn.init`` answers whatever ``torch.nn.init`` does."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(torch.nn.init, name)
