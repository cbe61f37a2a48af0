"""The learning-rate schedule: a linear warm-up, then a cosine decay to zero, per step."""

import math

import torch

__all__ = ["warmup_cosine"]


def warmup_cosine(optimizer, total_steps, warmup_steps):
    """A ``LambdaLR`` whose factor rises linearly over ``warmup_steps`` then follows a cosine.

    ``factor(s) = (s + 1) / warmup`` for ``s < warmup``, then
    ``½ (1 + cos(π (s - warmup) / (total - warmup)))``.
    """

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
