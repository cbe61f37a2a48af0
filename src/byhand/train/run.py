"""``train(TrainConfig(recipe, ...))``: a recipe's model, data, loss, optimizer and schedule
handed to :func:`byhand.train.fit`. ``byhand train RECIPE [options]`` calls it.
"""

import dataclasses
import math

from byhand.train import seed as seeding
from byhand.train.amp import PRECISIONS
from byhand.train.device import choose_device
from byhand.train.errors import UsageError
from byhand.train.loop import CLI_NAMES, fit
from byhand.train.recipes import RECIPES

__all__ = ["TrainConfig", "train", "resolve"]


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on; ``None`` takes the recipe's default."""

    recipe: str
    out: str = "runs/train"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    warmup_epochs: float | None = None
    clip_grad_norm: float | None = None
    device: str = "auto"
    precision: str | None = None  # None: the recipe's on CUDA, fp32 elsewhere
    channels_last: bool | None = None  # None: the recipe's on CUDA, off elsewhere
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    resume: str | None = None
    overwrite: bool = False
    data: str | None = None
    download: bool = False
    synthetic: int | None = None
    workers: int = 0
    threads: int = 0
    impl: str = "byhand"
    sync_bn: bool = False
    checkpoint_every: int = 0
    progress: bool = True


def _check_number(name, value, low, *, strict, integer=False):
    option = "--" + name.replace("_", "-")
    bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if integer and not bad_type and not float(value).is_integer():
        bad_type = True
    if bad_type or not math.isfinite(value) or value < low or (strict and value == low):
        kind = "integer" if integer else "number"
        bound = f"> {low}" if strict else f">= {low}"
        raise UsageError(f"{option} expects a finite {kind} {bound}, got {value}")


def resolve(config):
    """The recipe and the config with its defaults filled in; ``UsageError`` on bad values."""
    if config.recipe not in RECIPES:
        raise UsageError(
            f"unknown recipe {config.recipe!r}; valid recipes: {', '.join(RECIPES)}"
        )
    recipe = RECIPES[config.recipe]
    fields = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "warmup_epochs")
    filled = {f: getattr(recipe, f) for f in fields if getattr(config, f) is None}
    config = dataclasses.replace(config, **filled)
    _check_number("epochs", config.epochs, 0, strict=True, integer=True)
    _check_number("batch_size", config.batch_size, 0, strict=True, integer=True)
    _check_number("lr", config.lr, 0, strict=True)
    _check_number("momentum", config.momentum, 0, strict=False)
    _check_number("weight_decay", config.weight_decay, 0, strict=False)
    _check_number("warmup_epochs", config.warmup_epochs, 0, strict=False)
    if config.clip_grad_norm is not None:
        _check_number("clip_grad_norm", config.clip_grad_norm, 0, strict=True)
    if config.synthetic is not None:
        _check_number("synthetic", config.synthetic, 0, strict=True, integer=True)
    if config.warmup_epochs >= config.epochs:
        raise UsageError(
            f"--warmup-epochs {config.warmup_epochs} must be shorter than the run "
            f"(--epochs {config.epochs})"
        )
    if config.precision is not None and config.precision not in PRECISIONS:
        raise UsageError(f"--precision expects one of {', '.join(PRECISIONS)}")
    if config.impl not in ("byhand", "torch"):
        raise UsageError(f"--impl expects byhand or torch, got {config.impl!r}")
    if config.download and config.data is None:
        raise UsageError("--download needs --data DIR: the folder to download the data into")
    if config.synthetic is not None and (config.data is not None or config.download):
        raise UsageError("--synthetic makes random data: it takes no --data or --download")
    if config.synthetic is not None and not recipe.synthetic:
        raise UsageError(f"recipe {recipe.name} has no --synthetic data")
    return recipe, config


def train(config):
    """Run ``config`` to the end; returns the last epoch's metrics (rank 0's view).

    Raises ``UsageError`` for bad input, ``LossNotFinite`` when the loss diverges and
    ``Interrupted`` after Ctrl-C (with a checkpoint written).
    """
    recipe, config = resolve(config)
    device = choose_device(config.device)
    on_cuda = device.type == "cuda"
    if config.precision is None:
        config.precision = recipe.cuda_precision if on_cuda else "fp32"
    if config.channels_last is None:
        config.channels_last = recipe.cuda_channels_last and on_cuda
    train_set, val_set = recipe.datasets(config)  # first: a data error costs no model build
    # The model is built on the CPU right after seeding, so its initial weights depend only on
    # the seed, whatever the device.
    seeding.seed_everything(config.seed)
    model = recipe.build(config.impl)
    token = CLI_NAMES.set(True)
    try:
        result = fit(
            model,
            train_set,
            val_set,
            loss=recipe.make_loss(config.impl),
            optimizer=lambda params: recipe.make_optimizer(config.impl, params, config),
            scheduler=lambda optimizer, steps, _: recipe.make_scheduler(
                optimizer, steps, config
            ),
            epochs=config.epochs,
            batch_size=config.batch_size,
            batch_fn=recipe.batch_fn or getattr(train_set, "batch_fn", None),
            out=config.out,
            resume=config.resume or False,
            overwrite=config.overwrite,
            device=config.device,
            precision=config.precision,
            channels_last=config.channels_last,
            compile=config.compile,
            clip_grad_norm=config.clip_grad_norm,
            seed=config.seed,
            workers=config.workers,
            augment=recipe.augment,
            progress=config.progress,
            checkpoint_every=config.checkpoint_every,
            sync_bn=config.sync_bn,
            deterministic=config.deterministic,
            threads=config.threads,
            name=config.recipe,
            record=dataclasses.asdict(config),
        )
    finally:
        CLI_NAMES.reset(token)
    return result["final"]
