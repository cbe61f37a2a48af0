"""Choosing the device: ``auto`` picks CUDA, then MPS, then the CPU; asking for one that is not
there is an error, never a silent CPU run.
"""

import torch

from byhand.train.errors import UsageError

__all__ = ["DEVICE_CHOICES", "choose_device"]

DEVICE_CHOICES = "auto|cpu|cuda|cuda:N|mps"


def choose_device(name="auto"):
    """``torch.device`` for ``auto|cpu|cuda|cuda:N|mps``; ``UsageError`` if it is missing."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device expects {DEVICE_CHOICES}, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {name} was asked for, but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}); use --device cpu to train on the CPU"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"--device {name} was asked for, but MPS is not available")
    elif device.type != "cpu":
        raise UsageError(f"--device expects {DEVICE_CHOICES}, got {name!r}")
    return device
