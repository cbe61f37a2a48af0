"""The schedule ``fit`` and the recipes use: a linear warm-up, then a cosine to the end.

The formula lives once, in :func:`byhand.optim.lr_scheduler.warmup_cosine`; ``cosine_schedule``
only turns epochs into steps, as ``fit``'s ``scheduler=`` factory.
"""

from byhand.optim.lr_scheduler import CosineAnnealingLR, warmup_cosine

__all__ = ["cosine_schedule"]


def cosine_schedule(warmup_epochs=0.0, start_factor=0.01, eta_min=0.0):
    """A ``scheduler=`` factory for ``fit``: ``(optimizer, steps_per_epoch, epochs)`` → the lr
    rising linearly from ``start_factor × lr`` over ``warmup_epochs``, then a cosine down to
    ``eta_min`` at the last step. ``warmup_epochs=0``: the cosine alone, from the first step.
    """

    def make(optimizer, steps_per_epoch, epochs):
        total = epochs * steps_per_epoch
        warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
        if warmup <= 0:
            return CosineAnnealingLR(optimizer, T_max=total, eta_min=eta_min)
        return warmup_cosine(optimizer, warmup, total, start_factor, eta_min)

    return make
