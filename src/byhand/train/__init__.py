"""``byhand.train``: the CUDA-aware training engine behind ``byhand train``.

One idea a file: ``device`` (which device, or a clear error), ``amp`` (autocast and the fp16
grad scaler), ``seed`` (every RNG, DataLoader workers, deterministic kernels), ``checkpoint``
(atomic writes, ``weights_only`` reads), ``schedule`` (warm-up + cosine), ``distributed``
(torchrun + DistributedDataParallel), ``metrics`` (jsonl and a plot), ``recipes`` and
``loop`` (``train(config)``); ``command`` is the ``byhand train`` command line.
"""

from byhand.train.checkpoint import CheckpointError, load_checkpoint, save_atomic
from byhand.train.device import choose_device
from byhand.train.errors import LossNotFinite, UsageError
from byhand.train.loop import Interrupted, TrainConfig, train
from byhand.train.recipes import RECIPES
from byhand.train.seed import seed_everything
