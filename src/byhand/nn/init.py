"""Weight initialisation, written out. Mirrors ``torch.nn.init`` for the schemes byhand uses."""

import math

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
    gain = math.sqrt(2.0 / (1 + a**2))
    bound = gain * math.sqrt(3.0 / calculate_fan_in(tensor))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def uniform_(tensor, low, high):
    """Fill ``tensor`` from ``U(low, high)`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.uniform_(low, high)
