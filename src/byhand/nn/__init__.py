"""Modules written by hand, named and shaped like their ``torch.nn`` twins."""

from byhand.nn import functional, init
from byhand.nn.activation import ReLU, Sigmoid, Tanh
from byhand.nn.linear import Linear
from byhand.nn.loss import CrossEntropyLoss, MSELoss

__all__ = ["functional", "init", "Linear", "ReLU", "Sigmoid", "Tanh", "MSELoss", "CrossEntropyLoss"]
