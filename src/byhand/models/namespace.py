"""The module namespace a model is written against, so one piece of code builds it from
``byhand.nn`` or from ``torch.nn``."""

import types

import torch

import byhand.nn

__all__ = ["INFRASTRUCTURE", "namespace"]

# Infrastructure, not blocks: a byhand model takes these from torch.nn.
INFRASTRUCTURE = ("Module", "Sequential", "ModuleList", "ModuleDict", "Parameter")


def namespace(impl):
    """``torch.nn`` for ``"torch"``; ``byhand.nn`` for ``"byhand"``, with PyTorch's containers
    (``Sequential``, ``Module``, ...) taken from ``torch.nn`` where ``byhand.nn`` does not
    re-export them. ``nn = namespace(impl)`` then ``nn.Conv2d(...)`` builds either."""
    if impl == "torch":
        return torch.nn
    if impl != "byhand":
        raise ValueError(f"impl expects 'byhand' or 'torch', got {impl!r}")
    names = {name: getattr(torch.nn, name) for name in INFRASTRUCTURE}
    return types.SimpleNamespace(**{**names, **vars(byhand.nn)})
