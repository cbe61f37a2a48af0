"""Input factories shared by several chapters of the registry: ``factory(generator, dtype) ->
tuple``.
"""

import torch

# Element-wise blocks are fed ordinary values, exact zeros (where the kinks are) and magnitudes
# at
# which a naive e^x overflows (e^800 is inf even in float64).
EXTREMES = (0.0, -0.0, 1e-8, -1e-8, 20.0, -20.0, 50.0, -50.0, 800.0, -800.0)


def elementwise(generator, dtype):
    """34 values, shape (2, 17): 24 draws of 3·N(0, 1) and every value of ``EXTREMES``."""
    x = 3 * torch.randn(4, 6, generator=generator, dtype=dtype)
    return (torch.cat([x.flatten(), torch.tensor(EXTREMES, dtype=dtype)]).reshape(2, 17),)


def randn(*shape, scale=1.0):
    """One input of ``shape`` drawn from ``scale · N(0, 1)``."""
    return lambda g, dtype: (scale * torch.randn(*shape, generator=g, dtype=dtype),)


def pair_of(*shape):
    """Two inputs of ``shape`` from N(0, 1) (e.g. a prediction and a target)."""
    return lambda g, dtype: tuple(
        torch.randn(*shape, generator=g, dtype=dtype) for _ in range(2)
    )
