"""``byhand.train``: the CUDA-aware training engine, as a library (``fit``) and as the
``byhand train`` command.

One idea a file: ``device`` (which device, or a clear error), ``amp`` (autocast and the fp16
grad scaler), ``seed`` (every RNG, DataLoader workers, deterministic kernels), ``checkpoint``
(atomic writes, ``weights_only`` reads), ``state`` (what a checkpoint holds, exact resume),
``schedule`` (warm-up + cosine as a ``fit`` factory), ``distributed`` (torchrun +
DistributedDataParallel), ``metrics`` (jsonl and a plot), ``loop`` (``fit``), ``recipes``
(named setups), ``run`` (``train(TrainConfig)``) and ``command`` (the command line).
"""

from byhand.train.checkpoint import CheckpointError, load_checkpoint, save_atomic
from byhand.train.device import choose_device
from byhand.train.errors import LossNotFinite, UsageError
from byhand.train.loop import Interrupted, classify, fit
from byhand.train.recipes import RECIPES, Recipe, namespace, register
from byhand.train.run import TrainConfig, train
from byhand.train.schedule import cosine_schedule
from byhand.train.seed import seed_everything

__all__ = [
    "fit",
    "classify",
    "cosine_schedule",
    "train",
    "TrainConfig",
    "Recipe",
    "RECIPES",
    "register",
    "namespace",
    "Interrupted",
    "UsageError",
    "LossNotFinite",
    "CheckpointError",
    "choose_device",
    "load_checkpoint",
    "save_atomic",
    "seed_everything",
]
