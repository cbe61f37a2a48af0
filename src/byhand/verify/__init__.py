"""Parity checks of every hand-written block against the built-in (or oracle) it re-creates."""

from byhand.verify.pairs import (
    DTYPES,
    SEED,
    Args,
    Case,
    ModulePair,
    OptimizerPair,
    Result,
    family,
    run,
    twin,
)
from byhand.verify.registry import REGISTRY, entry

__all__ = [
    "Args",
    "family",
    "twin",
    "Case",
    "DTYPES",
    "ModulePair",
    "OptimizerPair",
    "REGISTRY",
    "Result",
    "SEED",
    "entry",
    "run",
]
