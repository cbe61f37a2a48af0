"""Seeding, measured: is an epoch of augmented batches the same bits twice?

A tiny dataset is augmented with NumPy (a random shift and a flip per image, in the DataLoader's
workers) and, optionally, mixed up in the training process (mixup's weight drawn with
``np.random.beta`` per batch, as the reference mixup code does). ``two_epochs`` draws one epoch
twice in a row under one seeding scheme and says whether the two are bitwise equal:

* ``"torch"``: ``torch.manual_seed(seed)`` alone before each epoch;
* ``"everything"``: ``byhand.train.seed.seed_everything(seed)`` (``random``, NumPy, torch)
  and ``seed_worker`` as the loader's ``worker_init_fn``.

Since PyTorch 1.9 each worker seeds ``random`` and NumPy's global generator from the loader's
base seed, which ``torch.manual_seed`` fixes: the worker half alone repeats. What
``torch.manual_seed`` leaves alone is NumPy (and ``random``) in the main process.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from byhand.train.seed import seed_everything, seed_worker

__all__ = ["NumpyAugmented", "SCHEMES", "SeedingResult", "epoch_batches", "two_epochs"]
SCHEMES = ("torch", "everything")


# --8<-- [start:dataset]
class NumpyAugmented(Dataset):
    """``n`` images (3, size, size), each shifted by up to one pixel and maybe flipped by
    NumPy's global generator when it is read."""

    def __init__(self, n=16, size=8):
        self.images = torch.linspace(0, 1, n * 3 * size * size).reshape(n, 3, size, size)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        size = self.images.shape[-1]
        padded = np.pad(self.images[index].numpy(), ((0, 0), (1, 1), (1, 1)))
        dy, dx = np.random.randint(0, 3, size=2)
        image = padded[:, dy : dy + size, dx : dx + size]
        if np.random.rand() < 0.5:
            image = image[:, :, ::-1]
        return torch.from_numpy(image.copy()), index


def mixup(images):
    """Mix each image with another of the batch; the weight comes from NumPy in this process."""
    weight = float(np.random.beta(1.0, 1.0))
    partner = torch.from_numpy(np.random.permutation(len(images)))
    return weight * images + (1 - weight) * images[partner]


# --8<-- [end:dataset]


# --8<-- [start:epoch]
def epoch_batches(scheme, *, seed=0, num_workers=2, main_process_numpy=True, n=16):
    """One shuffled epoch of augmented batches, seeded by ``scheme``, as one tensor."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "torch":
        torch.manual_seed(seed)
        init = None
    else:
        seed_everything(seed)
        init = seed_worker
    loader = DataLoader(
        NumpyAugmented(n), batch_size=4, shuffle=True, num_workers=num_workers,
        worker_init_fn=init,
    )  # fmt: skip
    batches = [mixup(x) if main_process_numpy else x for x, _ in loader]
    return torch.cat(batches)


# --8<-- [end:epoch]


@dataclass(frozen=True)
class SeedingResult:
    scheme: str
    num_workers: int
    main_process_numpy: bool
    equal: bool  # bitwise
    max_abs_difference: float

    def __str__(self):
        where = "workers + main process" if self.main_process_numpy else "workers only"
        if self.num_workers == 0:
            where = "main process only"
        verdict = "bitwise equal" if self.equal else "differ"
        return f"{self.scheme:>10}, {self.num_workers} workers, NumPy in {where}: {verdict}"


def two_epochs(scheme, *, num_workers=2, main_process_numpy=True, seed=0, n=16):
    """Draw the epoch twice under ``scheme``; are the two bitwise equal?"""
    options = dict(seed=seed, num_workers=num_workers, main_process_numpy=main_process_numpy)
    first = epoch_batches(scheme, n=n, **options)
    second = epoch_batches(scheme, n=n, **options)
    difference = (first - second).abs().max().item()
    return SeedingResult(
        scheme, num_workers, main_process_numpy, torch.equal(first, second), difference
    )
