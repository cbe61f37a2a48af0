"""Mixed precision: ``torch.autocast`` runs chosen ops in bf16 or fp16; fp16 also needs a
``GradScaler``, because its small gradients underflow to zero without one.
"""

import contextlib

import torch

__all__ = ["PRECISIONS", "autocast", "make_scaler"]

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device, precision):
    """The autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device, precision):
    """A ``torch.amp.GradScaler`` that is enabled only for fp16.

    Disabled, ``scale(loss)`` returns the loss and ``step(optimizer)`` just steps, so the loop
    reads the same for every precision. Enabled, a step whose gradients hold inf or NaN is
    skipped and the scale is halved.
    """
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")
