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


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance through ``nonlinearity``: 1 for linear maps
    and sigmoid, 5/3 for tanh, √2 for ReLU, √(2 / (1 + slope²)) for leaky ReLU (slope ``param``,
    0.01 by default), 3/4 for SELU."""
    linear = ("linear", "sigmoid", "conv1d", "conv2d", "conv3d")
    if nonlinearity in linear or nonlinearity in [f"conv_transpose{d}d" for d in (1, 2, 3)]:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity != "leaky_relu":
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    if param is None:
        slope = 0.01
    elif isinstance(param, (int, float)) and not isinstance(param, bool):
        slope = param
    else:
        raise ValueError(f"negative_slope {param} not a valid number")
    return math.sqrt(2.0 / (1 + slope**2))


def _kaiming_std(tensor, a, mode, nonlinearity):
    """``gain / √fan``: fan_in keeps the forward's variance, fan_out the backward's."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _empty(tensor):
    """A zero-element tensor has nothing to fill: PyTorch warns and returns it."""
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` from ``U(-b, b)``, ``b = √3 · gain / √fan`` (He et al., 2015).

    The variance of ``U(-b, b)`` is ``b²/3 = gain² / fan``: each output's variance stays
    ``gain²`` times the input's whatever the layer width. The gain is ``calculate_gain(
    nonlinearity, a)``; PyTorch's ``Linear`` and ``Conv`` layers call this with ``a = √5``
    (leaky ReLU's gain √(2 / 6)), which makes ``b = 1/√fan_in``.
    """
    if _empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` from ``N(0, σ²)``, ``σ = gain / √fan``: the same variance, normal."""
    if _empty(tensor):
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` from ``U(a, b)`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``: ``in·k`` and ``out·k``."""
    if tensor.dim() < 2:
        raise ValueError(
            f"fan_in/fan_out need a weight with at least 2 dimensions, "
            f"got {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _xavier_std(tensor, gain):
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill from ``U(-b, b)``, ``b = √3 · gain · √(2 / (fan_in + fan_out))`` (Glorot, 2010)."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill from ``N(0, σ²)``, ``σ = gain · √(2 / (fan_in + fan_out))``."""
    std = _xavier_std(tensor, gain)
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill from ``N(mean, std²)`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def constant_(tensor, val):
    """Fill with ``val`` without recording the operation for autograd."""
    with torch.no_grad():
        return tensor.fill_(val)


def __getattr__(name):
    """Every other ``torch.nn.init`` function (``zeros_``, ``orthogonal_``, ...) is
    PyTorch's own, so ``byhand.nn.init`` answers whatever ``torch.nn.init`` does."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(torch.nn.init, name)
