"""``byhand.repro``: reproducing a published result, as tools.

``PaperSpec`` (what the paper states, omits, and what we assumed), ``ModuleVerifier`` (two
models compared module call by module call through hooks, forward and backward),
``ReproductionTracker`` (each run's deviation from the published numbers, the 5% rule) and
``two_epochs`` (does a seeding scheme repeat a DataLoader's augmented epoch bit for bit?).
"""

from byhand.repro.batchnorm import per_device_batch_norm
from byhand.repro.seeding import SeedingResult, epoch_batches, two_epochs
from byhand.repro.spec import PaperSpec
from byhand.repro.tracker import ReproductionTracker
from byhand.repro.verifier import (
    TOLERANCES,
    ModuleVerifier,
    Row,
    VerificationReport,
    compare_tensors,
)

__all__ = [
    "TOLERANCES",
    "ModuleVerifier",
    "PaperSpec",
    "ReproductionTracker",
    "Row",
    "SeedingResult",
    "VerificationReport",
    "compare_tensors",
    "epoch_batches",
    "per_device_batch_norm",
    "two_epochs",
]
