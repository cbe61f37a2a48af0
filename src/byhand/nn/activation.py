"""Element-wise activations. Each module calls its formula in ``byhand.nn.functional``."""

import torch

from byhand.nn import functional as F

__all__ = ["ReLU", "Sigmoid", "Tanh"]


class ReLU(torch.nn.Module):
    """``max(x, 0)`` element-wise; any shape."""

    def forward(self, input):
        return F.relu(input)


class Sigmoid(torch.nn.Module):
    """``1 / (1 + e^{-x})`` element-wise; any shape."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(torch.nn.Module):
    """``(e^x - e^{-x}) / (e^x + e^{-x})`` element-wise; any shape."""

    def forward(self, input):
        return F.tanh(input)
