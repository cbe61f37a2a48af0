"""Activations: each module stores its options and calls ``byhand.nn.functional``."""

import warnings

import torch

from byhand.nn import functional as F

__all__ = [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "SELU",
    "CELU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "GELU",
    "SiLU",
    "Mish",
    "Hardswish",
    "Hardsigmoid",
    "Hardtanh",
    "Softsign",
    "LogSigmoid",
    "Softmax",
    "LogSoftmax",
    "Softmin",
]


class _Inplace(torch.nn.Module):
    """An element-wise activation with PyTorch's ``inplace`` flag; any shape."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


# --8<-- [start:modules]
class ReLU(_Inplace):
    """``max(x, 0)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)


class ReLU6(_Inplace):
    """``min(max(x, 0), 6)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.relu6(input, inplace=self.inplace)


class LeakyReLU(torch.nn.Module):
    """``x`` for ``x > 0``, else ``negative_slope · x``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (
            ", inplace=True" if self.inplace else ""
        )


class PReLU(torch.nn.Module):
    """Leaky ReLU with a learned slope ``weight`` ``(num_parameters,)``, each ``init``.

    Shapes: ``input`` ``(N, C, *)`` (one slope per channel ``C``) or ``(*)`` with one slope; the
    output has the same shape.
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = torch.nn.Parameter(
            torch.empty(num_parameters, device=device, dtype=dtype)
        )
        self.reset_parameters()

    def reset_parameters(self):
        torch.nn.init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(_Inplace):
    """``x`` for ``x > 0``, else ``α (e^x - 1)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)


class SELU(_Inplace):
    """``scale · elu(x, α)`` with PyTorch's two constants.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.selu(input, self.inplace)


class CELU(_Inplace):
    """``x`` for ``x > 0``, else ``α (e^{x/α} - 1)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class Sigmoid(torch.nn.Module):
    """``1 / (1 + e^{-x})``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(torch.nn.Module):
    """``(e^x - e^{-x}) / (e^x + e^{-x})``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.tanh(input)


class Softplus(torch.nn.Module):
    """``log(1 + e^{βx}) / β``, linear where ``βx > threshold``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)


class GELU(torch.nn.Module):
    """``x Φ(x)``; ``approximate='tanh'`` for the tanh approximation.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)


class SiLU(_Inplace):
    """``x σ(x)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Mish(_Inplace):
    """``x tanh(softplus(x))``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Hardswish(_Inplace):
    """``x · relu6(x + 3) / 6``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(_Inplace):
    """``relu6(x + 3) / 6``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class Hardtanh(torch.nn.Module):
    """``x`` clipped to ``[min_val, max_val]``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def __init__(
        self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None
    ):
        super().__init__()
        if min_value is not None or max_value is not None:
            warnings.warn(
                "keyword arguments `min_value` and `max_value` are deprecated; "
                "use `min_val` and `max_val`",
                FutureWarning,
                stacklevel=2,
            )
            min_val = min_val if min_value is None else min_value
            max_val = max_val if max_value is None else max_value
        if not max_val > min_val:
            raise ValueError(f"Hardtanh expects max_val > min_val, got {min_val}, {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)


class Softsign(torch.nn.Module):
    """``x / (1 + |x|)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(torch.nn.Module):
    """``log σ(x)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    def forward(self, input):
        return F.logsigmoid(input)


class _AlongDim(torch.nn.Module):
    """A normalisation along ``dim`` (``None``: PyTorch's legacy implicit choice, warned)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``e^{x_i} / Σ_j e^{x_j}`` along ``dim``.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """

    def forward(self, input):
        return F.softmax(input, self.dim)


class LogSoftmax(_AlongDim):
    """``log softmax(x)`` along ``dim``.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmin(_AlongDim):
    """``softmax(-x)`` along ``dim``.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """

    def forward(self, input):
        return F.softmin(input, self.dim)


# --8<-- [end:modules]
