"""The two ways a training run stops early: bad input (exit 2) or a diverged loss (exit 1)."""

__all__ = ["UsageError", "LossNotFinite"]


class UsageError(ValueError):
    """Bad input: an option, a file or a device that cannot be used as given."""


class LossNotFinite(RuntimeError):
    """The training loss became NaN or infinite; the message names the step."""
