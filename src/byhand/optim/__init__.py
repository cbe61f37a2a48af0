"""Optimizers written by hand, with the arguments and state keys of their ``torch.optim`` twins."""

from byhand.optim.sgd import SGD

__all__ = ["SGD"]
