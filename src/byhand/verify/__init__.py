"""Parity checks of every hand-written block against the built-in (or oracle) it re-creates."""

from byhand.verify.pairs import DTYPES, SEED, Case, ModulePair, OptimizerPair, Result, run
from byhand.verify.registry import REGISTRY, entry

__all__ = ["Case", "DTYPES", "ModulePair", "OptimizerPair", "REGISTRY", "Result", "SEED", "entry", "run"]
