"""Element-wise activations. Each module calls its formula in ``byhand.nn.functional``."""

import torch

from byhand.nn import functional as F


class ReLU(torch.nn.Module):
    """``max(x, 0)`` element-wise; any shape."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(torch.nn.Module):
    """``1 / (1 + e^{-x})`` element-wise; any shape."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(torch.nn.Module):
    """``(e^x - e^{-x}) / (e^x + e^{-x})`` element-wise; any shape."""

    def forward(self, x):
        return F.tanh(x)
