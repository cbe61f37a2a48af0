"""The same three-layer ConvNet at PyTorch's three levels, for the three-levels page.

conv (k×k, pad (k − 1) // 2) - relu - 2×2 max pool - linear - relu - linear, as
(1) bare tensors with parameters made by hand, (2) an ``nn.Module``, (3) an ``nn.Sequential``.
The one file of the classic track that imports torch (``byhand.classic`` itself does not import
it); ``classic_params`` hands the weights to the NumPy ``ThreeLayerConvNet``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BareConvNet",
    "ModuleConvNet",
    "sequential_convnet",
    "classic_params",
    "load_params",
]


# --8<-- [start:bare]
class BareConvNet:
    """Level 1: parameters are plain tensors with ``requires_grad``, the forward is functions.

    Kaiming (He) normal init for ReLU layers: std = √(2 / fan_in), fan_in = inputs per output
    (C·k·k for the convolution, the input width for a linear layer); biases 0.
    """

    def __init__(
        self, input_dim=(1, 8, 8), num_filters=16, filter_size=3, hidden_dim=64, num_classes=10
    ):
        C, H, W = input_dim
        flat = num_filters * (H // 2) * (W // 2)

        def kaiming(*shape, fan_in):
            return torch.empty(shape).normal_(0, math.sqrt(2 / fan_in)).requires_grad_()

        self.pad = (filter_size - 1) // 2
        self.conv_weight = kaiming(
            num_filters, C, filter_size, filter_size, fan_in=C * filter_size**2
        )
        self.conv_bias = torch.zeros(num_filters, requires_grad=True)
        self.hidden_weight = kaiming(hidden_dim, flat, fan_in=flat)
        self.hidden_bias = torch.zeros(hidden_dim, requires_grad=True)
        self.out_weight = kaiming(num_classes, hidden_dim, fan_in=hidden_dim)
        self.out_bias = torch.zeros(num_classes, requires_grad=True)

    def parameters(self):
        return [
            self.conv_weight,
            self.conv_bias,
            self.hidden_weight,
            self.hidden_bias,
            self.out_weight,
            self.out_bias,
        ]

    def __call__(self, x):
        x = F.relu(F.conv2d(x, self.conv_weight, self.conv_bias, padding=self.pad))
        x = F.max_pool2d(x, 2).flatten(1)
        x = F.relu(F.linear(x, self.hidden_weight, self.hidden_bias))
        return F.linear(x, self.out_weight, self.out_bias)


# --8<-- [end:bare]


# --8<-- [start:module]
class ModuleConvNet(nn.Module):
    """Level 2: layers are submodules, ``parameters()`` and ``state_dict()`` come for free."""

    def __init__(
        self, input_dim=(1, 8, 8), num_filters=16, filter_size=3, hidden_dim=64, num_classes=10
    ):
        super().__init__()
        C, H, W = input_dim
        self.conv = nn.Conv2d(C, num_filters, filter_size, padding=(filter_size - 1) // 2)
        self.hidden = nn.Linear(num_filters * (H // 2) * (W // 2), hidden_dim)
        self.out = nn.Linear(hidden_dim, num_classes)
        for layer in (self.conv, self.hidden, self.out):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # fan_in, √2 gain
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1)
        return self.out(F.relu(self.hidden(x)))


# --8<-- [end:module]


# --8<-- [start:sequential]
def sequential_convnet(
    input_dim=(1, 8, 8), num_filters=16, filter_size=3, hidden_dim=64, num_classes=10
):
    """Level 3: the layers in order, nothing else to write."""
    C, H, W = input_dim
    model = nn.Sequential(
        nn.Conv2d(C, num_filters, filter_size, padding=(filter_size - 1) // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(num_filters * (H // 2) * (W // 2), hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, num_classes),
    )
    for layer in (model[0], model[4], model[6]):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    return model


# --8<-- [end:sequential]


def _tensors(model):
    """(conv w, conv b, hidden w, hidden b, out w, out b) of any of the three levels."""
    return list(model.parameters())


def load_params(model, source):
    """Copy the six parameters of ``source`` into ``model`` (any two of the three levels)."""
    with torch.no_grad():
        for target, value in zip(_tensors(model), _tensors(source)):
            target.copy_(value)


def classic_params(model):
    """The weights as the NumPy ``ThreeLayerConvNet``'s ``params`` (float64; linear weights
    transposed: classic layers compute x w, PyTorch's x wᵀ)."""
    w1, b1, w2, b2, w3, b3 = (t.detach().double().numpy().copy() for t in _tensors(model))
    return {"W1": w1, "b1": b1, "W2": w2.T.copy(), "b2": b2, "W3": w3.T.copy(), "b3": b3}
