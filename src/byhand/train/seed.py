"""Seeding every random number generator a run touches, and saving and restoring their states.

``seed_everything`` covers Python's ``random``, NumPy, torch (CPU and every CUDA device); the
DataLoader's workers get their seeds from the loader's own ``generator`` through
``seed_worker``. ``deterministic`` asks PyTorch for deterministic kernels.
"""

import contextlib
import os
import random

import numpy as np
import torch

__all__ = [
    "seed_everything",
    "seed_worker",
    "deterministic",
    "rng_states",
    "set_rng_states",
]


def seed_everything(seed):
    """Seed ``random``, NumPy and torch (CPU and all CUDA devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_worker(worker_id):
    """``worker_init_fn``: seed ``random`` and NumPy in a DataLoader worker from torch's seed.

    torch seeds each worker with ``base_seed + worker_id``, ``base_seed`` being drawn from
    the loader's ``generator``; NumPy and ``random`` would otherwise repeat the parent's state
    in every worker.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


@contextlib.contextmanager
def deterministic():
    """Deterministic kernels inside the ``with`` block; the previous settings after it.

    Sets ``torch.use_deterministic_algorithms``, cuDNN's ``deterministic``/``benchmark`` flags
    (through ``torch.backends.cudnn.flags``, which also works where PyTorch's own test suite
    has frozen the global flags) and ``CUBLAS_WORKSPACE_CONFIG`` (cuBLAS reads it before its
    first call).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    cudnn = torch.backends.cudnn
    torch.use_deterministic_algorithms(True)
    try:
        with cudnn.flags(
            enabled=cudnn.enabled,
            benchmark=False,
            benchmark_limit=cudnn.benchmark_limit,
            deterministic=True,
            allow_tf32=cudnn.allow_tf32,
        ):
            yield
    finally:
        torch.use_deterministic_algorithms(previous)


def rng_states():
    """Every RNG state as tensors, ints, lists: ``torch.load(weights_only=True)`` reads it."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states):
    """Restore the states ``rng_states`` returned."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
