"""Recipes: a model, its data, loss, optimizer, schedule and defaults, under one name.

``byhand train NAME`` looks ``NAME`` up in ``RECIPES`` and hands the parts to
:func:`byhand.train.fit`. ``impl="byhand"`` builds the model, the loss and the optimizer from
``byhand.nn`` / ``byhand.optim``; ``impl="torch"`` from ``torch.nn`` / ``torch.optim``. Both
give the same architecture, the same state_dict keys and, from the same seed, the same initial
weights; ``config.json`` records where every block came from.

Adding a recipe (a case study does this in its own module, then adds one line below):

1. Write ``build(impl) -> torch.nn.Module``, using ``nn = namespace(impl)`` for every block, so
   one piece of code builds both implementations.
2. Write ``datasets(config) -> (train, val)``: map-style datasets (a ``TensorDataset`` will
   do; ``val`` may be ``None``). ``config`` is the resolved :class:`byhand.train.TrainConfig`:
   read ``config.data`` (a folder or ``None``), ``config.download``, ``config.synthetic`` (a
   sample count or ``None``; set ``synthetic=True`` on the recipe to allow it) and
   ``config.seed``. Missing or malformed files raise ``byhand.data.DataFormatError`` with one
   line naming what was expected where (``byhand train`` prints it, exit 2).
3. Give the defaults: ``epochs``, ``batch_size``, ``lr`` (``momentum``, ``weight_decay``,
   ``warmup_epochs``, ``label_smoothing`` if not 0.9 / 0 / 0 / 0).
4. Only where the defaults do not fit: ``loss(impl) -> loss_fn`` (default
   ``CrossEntropyLoss(label_smoothing=...)``); ``optimizer(impl, params, config) -> optimizer``
   (default SGD with ``config.lr``, ``config.momentum``, ``config.weight_decay``);
   ``scheduler(optimizer, steps_per_epoch, config) -> LRScheduler`` stepped every step
   (default :func:`byhand.train.cosine_schedule` with ``config.warmup_epochs``);
   ``batch_fn(model, batch, loss_fn) -> (loss, n_correct, n)`` for batches that are not
   ``(inputs, targets)`` (see :func:`byhand.train.classify`; without one, a train dataset
   with a ``batch_fn`` method supplies it, as ``byhand.data.cifar10.CIFAR10`` does to
   normalise with its statistics); ``augment(inputs, generator)``
   applied to ``batch[0]`` on the device in training; ``cuda_precision`` /
   ``cuda_channels_last`` used on CUDA when the command line does not say.
5. ``RECIPES`` gets the recipe: ``register(Recipe("my-recipe", "one line", build, datasets,
   epochs=..., batch_size=..., lr=...))`` at the end of this file.

``byhand train --list`` then lists it, ``byhand train my-recipe`` trains it, and
``tests/test_train.py`` checks that every recipe builds and names its blocks.
"""

import dataclasses

import torch

import byhand
from byhand.data import DataFormatError, cifar10, load_digits_tensors, split_digits
from byhand.models.namespace import namespace
from byhand.models.resnet import resnet18
from byhand.train.schedule import cosine_schedule

__all__ = ["Recipe", "RECIPES", "register", "namespace"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named setup for ``byhand train``; see the module docstring for each field."""

    name: str
    summary: str
    build: object  # (impl) -> torch.nn.Module
    datasets: object  # (config) -> (train dataset, val dataset or None)
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    loss: object = None  # (impl) -> loss_fn
    optimizer: object = None  # (impl, params, config) -> torch.optim.Optimizer
    scheduler: object = None  # (optimizer, steps_per_epoch, config) -> LRScheduler
    batch_fn: object = None  # (model, batch, loss_fn) -> (loss, n_correct, n)
    augment: object = None  # (inputs, generator) -> inputs
    synthetic: bool = False  # datasets() honours --synthetic N
    cuda_precision: str = "fp32"
    cuda_channels_last: bool = False

    def make_loss(self, impl):
        if self.loss is not None:
            return self.loss(impl)
        return namespace(impl).CrossEntropyLoss(label_smoothing=self.label_smoothing)

    def make_optimizer(self, impl, params, config):
        if self.optimizer is not None:
            return self.optimizer(impl, params, config)
        sgd = byhand.optim.SGD if impl == "byhand" else torch.optim.SGD
        return sgd(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )

    def make_scheduler(self, optimizer, steps_per_epoch, config):
        if self.scheduler is not None:
            return self.scheduler(optimizer, steps_per_epoch, config)
        make = cosine_schedule(config.warmup_epochs)
        return make(optimizer, steps_per_epoch, config.epochs)


RECIPES = {}


def register(recipe):
    """Add ``recipe`` to ``RECIPES`` (a name used twice is an error)."""
    if recipe.name in RECIPES:
        raise ValueError(f"a recipe called {recipe.name!r} is already registered")
    RECIPES[recipe.name] = recipe
    return recipe


def _digits(shape):
    def datasets(config):
        images, labels = load_digits_tensors(config.data, config.download)
        (train_x, train_y), (val_x, val_y) = split_digits(images, labels)
        return (
            torch.utils.data.TensorDataset(train_x.reshape(-1, *shape), train_y),
            torch.utils.data.TensorDataset(val_x.reshape(-1, *shape), val_y),
        )

    return datasets


def digits_mlp(impl="byhand"):
    """64 pixels → 128 → 10 scores, ReLU between."""
    nn = namespace(impl)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def digits_convnet(impl="byhand"):
    """``(N, 1, 8, 8)`` → two 3×3 conv + batch norm + ReLU blocks → 2×2 max-pool → 10 scores."""
    nn = namespace(impl)
    return nn.Sequential(
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


register(
    Recipe(
        "digits-mlp",
        "MLP 64-128-10 on the UCI digits (8x8, 1438 train / 359 val), SGD + cosine",
        digits_mlp,
        _digits((64,)),
        epochs=3,
        batch_size=32,
        lr=0.1,
        warmup_epochs=0.2,
    )
)
register(
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
    )
)


def _cifar10_datasets(config):
    """CIFAR-10 from ``--data DIR`` (``--download`` fetches it), or ``--synthetic N`` images."""
    if config.synthetic is not None:
        return cifar10.synthetic_cifar10(config.synthetic, config.seed)
    if config.data is None:
        raise DataFormatError(
            f"recipe {config.recipe} reads CIFAR-10 from --data DIR (the folder holding "
            f"{cifar10.ARCHIVE}; --download puts it there), or trains on random images "
            "with --synthetic N"
        )
    return cifar10.load_cifar10(config.data, config.download)


def resnet18_cifar10(impl="byhand"):
    """ResNet-18, CIFAR variant (3×3 stem, no max-pool), 10 classes."""
    return resnet18(10, impl=impl)


register(
    Recipe(
        "resnet18-cifar10",
        "ResNet-18 on CIFAR-10: batch 128, SGD 0.1 momentum 0.9 wd 5e-4, cosine, 200 epochs",
        resnet18_cifar10,
        _cifar10_datasets,
        epochs=200,
        batch_size=128,
        lr=0.1,
        weight_decay=5e-4,
        augment=cifar10.crop_flip,
        synthetic=True,
    )
)
register(
    Recipe(
        "resnet18-cifar10-fast",
        "ResNet-18 on CIFAR-10, 30 epochs: batch 256, lr 0.2, 1 warm-up epoch, label "
        "smoothing 0.1; bf16 + channels_last on CUDA",
        resnet18_cifar10,
        _cifar10_datasets,
        epochs=30,
        batch_size=256,
        lr=0.2,
        weight_decay=5e-4,
        warmup_epochs=1.0,
        label_smoothing=0.1,
        augment=cifar10.crop_flip,
        synthetic=True,
        cuda_precision="bf16",
        cuda_channels_last=True,
    )
)
