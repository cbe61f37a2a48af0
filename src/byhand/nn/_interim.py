"""Stand-ins for three blocks of other chapters that the sequence chapter needs: ``dropout``,
``gelu`` and ``LayerNorm``.

Each is the textbook formula, drawing its random numbers as PyTorch's CPU kernels do, so the
Transformer layers match ``torch.nn`` with the same seed. Once byhand's own dropout, GELU and
LayerNorm are merged (Modules II, Activations), import those instead and delete this file.
"""

import math

import torch

__all__ = []  # nothing public: byhand.nn exports the chapters' own blocks


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is ``bernoulli(1 - p)`` drawn over ``input``'s shape, as
    ``torch.nn.functional.dropout`` draws it on the CPU: the same seed zeroes the same
    elements.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * torch.zeros((), dtype=input.dtype, device=input.device)
    keep = torch.empty_like(input).bernoulli_(1.0 - p).div_(1.0 - p)
    return input * keep


def gelu(input):
    """``x · Φ(x) = ½ x (1 + erf(x / √2))``, the exact GELU (PyTorch's default)."""
    return 0.5 * input * (1.0 + torch.erf(input / math.sqrt(2.0)))


class Dropout(torch.nn.Module):
    """``dropout`` as a module: active in ``train()``, the identity in ``eval()``."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training)


class LayerNorm(torch.nn.Module):
    """Normalise the last ``len(normalized_shape)`` dims: ``(x - μ) / √(σ² + ε) · γ + β``."""

    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        factory = {"device": device, "dtype": dtype}
        weight = bias_param = None
        if elementwise_affine:
            weight = torch.nn.Parameter(torch.ones(self.normalized_shape, **factory))
            if bias:
                bias_param = torch.nn.Parameter(torch.zeros(self.normalized_shape, **factory))
        self.register_parameter("weight", weight)
        self.register_parameter("bias", bias_param)

    def forward(self, input):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = input.mean(dim=dims, keepdim=True)
        centred = input - mean
        variance = (centred * centred).mean(dim=dims, keepdim=True)
        out = centred * torch.rsqrt(variance + self.eps)
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return out
