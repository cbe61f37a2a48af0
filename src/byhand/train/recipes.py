"""Recipes: a model, its data and its default hyper-parameters under one name.

``impl="byhand"`` builds the model, the loss and the optimizer from ``byhand.nn`` /
``byhand.optim``; ``impl="torch"`` from ``torch.nn`` / ``torch.optim``. Both give the same
architecture, the same state_dict keys and, from the same seed, the same initial weights. A
block that byhand has not written yet comes from ``torch.nn`` in both; ``model_sources`` lists
where every block of a built model came from, and ``config.json`` records it.
"""

import dataclasses
import types

import torch

import byhand
from byhand.data import load_digits_tensors, split_digits

__all__ = ["Recipe", "RECIPES", "blocks", "model_sources"]

BLOCKS = ("Linear", "ReLU", "Conv2d", "BatchNorm2d", "MaxPool2d", "Flatten", "CrossEntropyLoss")


def blocks(impl):
    """The block classes for ``impl``: byhand's where byhand has one, else ``torch.nn``'s."""
    if impl == "torch":
        return types.SimpleNamespace(**{name: getattr(torch.nn, name) for name in BLOCKS})
    return types.SimpleNamespace(
        **{name: getattr(byhand.nn, name, getattr(torch.nn, name)) for name in BLOCKS}
    )


def model_sources(*modules):
    """``{class name: module it came from}`` for every block inside ``modules``."""
    found = {}
    for module in modules:
        for sub in module.modules():
            if type(sub) is not torch.nn.Sequential:
                found[type(sub).__name__] = type(sub).__module__
    return dict(sorted(found.items()))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named setup: ``build`` makes the model, ``datasets`` the train and val sets."""

    name: str
    summary: str
    build: object  # (impl) -> torch.nn.Module
    datasets: object  # (data_dir, download) -> (train TensorDataset, val TensorDataset)
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0

    def loss(self, impl):
        return blocks(impl).CrossEntropyLoss()

    def optimizer(self, impl, params, lr, momentum, weight_decay):
        sgd = byhand.optim.SGD if impl == "byhand" else torch.optim.SGD
        return sgd(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _digits(shape):
    def datasets(data_dir=None, download=False):
        images, labels = load_digits_tensors(data_dir, download)
        (train_x, train_y), (val_x, val_y) = split_digits(images, labels)
        return (
            torch.utils.data.TensorDataset(train_x.reshape(-1, *shape), train_y),
            torch.utils.data.TensorDataset(val_x.reshape(-1, *shape), val_y),
        )

    return datasets


def digits_mlp(impl="byhand"):
    """64 pixels → 128 → 10 scores, ReLU between."""
    nn = blocks(impl)
    return torch.nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def digits_convnet(impl="byhand"):
    """``(N, 1, 8, 8)`` → two 3×3 conv + batch norm + ReLU blocks → 2×2 max-pool → 10 scores."""
    nn = blocks(impl)
    return torch.nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "digits-mlp",
            "MLP 64-128-10 on the UCI digits (8x8, 1438 train / 359 val), SGD + cosine",
            digits_mlp,
            _digits((64,)),
            epochs=3,
            batch_size=32,
            lr=0.1,
            warmup_epochs=0.2,
        ),
        Recipe(
            "digits-convnet",
            "2-conv BatchNorm convnet on the UCI digits as (1, 8, 8) images, SGD + cosine",
            digits_convnet,
            _digits((1, 8, 8)),
            epochs=3,
            batch_size=32,
            lr=0.05,
            weight_decay=5e-4,
            warmup_epochs=0.2,
        ),
    )
}
