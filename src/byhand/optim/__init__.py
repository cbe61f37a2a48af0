"""Optimizers written by hand, with the arguments and state keys of ``torch.optim``'s."""

from byhand.optim.sgd import *
