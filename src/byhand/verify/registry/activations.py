"""Registry chapter: activations (docs/activations/). One line per block through ``family``."""

import torch

from byhand.verify.pairs import Case, family
from byhand.verify.registry._inputs import EXTREMES, randn

# Besides 0 (every rectifier's kink), the other kinks: ReLU6 at 6, Hardtanh at ±1, the hard
# sigmoid and swish at ±3, and the values beside them.
KINKS = (1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 2.0, -2.0, 0.5, -0.5, 1e-3, -1e-3)


def kinks_and_extremes(generator, dtype):
    """46 values, shape (2, 23): 24 draws of 3·N(0, 1), ``EXTREMES`` (0, ±20, ±800, ...) and
    ``KINKS``."""
    x = 3 * torch.randn(24, generator=generator, dtype=dtype)
    fixed = torch.tensor(EXTREMES + KINKS, dtype=dtype)
    return (torch.cat([x, fixed]).reshape(2, 23),)


def logits(generator, dtype):
    """``(3, 4, 5)`` logits of scale 5, with ±800 and 0 in them."""
    x = 5 * torch.randn(3, 4, 5, generator=generator, dtype=dtype)
    x[0, 0, :3] = torch.tensor([800.0, -800.0, 0.0], dtype=dtype)
    return (x,)


def _channels(generator, dtype):
    """``(2, 3, 4)``: three channels for a per-channel ``PReLU``."""
    return (3 * torch.randn(2, 3, 4, generator=generator, dtype=dtype),)


BENCH = Case("(1024, 1024)", inputs=randn(1024, 1024, scale=3.0))
RECTIFIERS = "activations/rectifiers.md"
SMOOTH = "activations/smooth.md"
SOFTMAX = "activations/softmax.md"


def _on(page, *cases):
    """A member's own fields: its page and, when given, its cases (the default one first)."""
    return dict(page=page, **(dict(cases=(Case("default"), *cases)) if cases else {}))


def _along(page):
    return dict(
        page=page, inputs=logits, cases=tuple(Case(f"dim {d}", dict(dim=d)) for d in (0, 1, -1))
    )


ENTRIES = family(
    # --8<-- [start:family]
    # train and eval, as in the first slice (tests/test_verify_machinery.py counts both rows)
    ("nn.ReLU", dict(modes=("train", "eval"))),
    ("nn.Sigmoid", dict(modes=("train", "eval"))),
    ("nn.Tanh", dict(modes=("train", "eval"))),
    ("nn.ReLU6", _on(RECTIFIERS)),
    ("nn.LeakyReLU", _on(RECTIFIERS, Case("slope 0.2", dict(negative_slope=0.2)))),
    (
        "nn.PReLU",
        dict(
            cases=(
                Case("one slope"),
                Case("3 slopes, init 0.1", dict(num_parameters=3, init=0.1), inputs=_channels),
            ),
            page=RECTIFIERS,
        ),
    ),
    ("nn.Hardtanh", _on(RECTIFIERS, Case("[-2, 3]", dict(min_val=-2.0, max_val=3.0)))),
    ("nn.ELU", _on(RECTIFIERS, Case("alpha 0.5", dict(alpha=0.5)))),
    ("nn.SELU", _on(RECTIFIERS)),
    ("nn.CELU", _on(RECTIFIERS, Case("alpha 2", dict(alpha=2.0)))),
    (
        "nn.Softplus",
        _on(
            SMOOTH,
            Case("beta 2", dict(beta=2.0)),
            Case("beta 0.5, threshold 5", dict(beta=0.5, threshold=5.0)),
            Case("threshold 100 (e^100 overflows float32)", dict(threshold=100.0)),
        ),
    ),
    ("nn.GELU", _on(SMOOTH, Case("tanh", dict(approximate="tanh")))),
    ("nn.SiLU", _on(SMOOTH)),
    ("nn.Mish", _on(SMOOTH)),
    ("nn.Hardswish", _on(SMOOTH)),
    ("nn.Hardsigmoid", _on(SMOOTH)),
    ("nn.Softsign", _on(SMOOTH)),
    ("nn.LogSigmoid", _on(SMOOTH)),
    ("nn.Softmax", _along(SOFTMAX)),
    ("nn.LogSoftmax", _along(SOFTMAX)),
    ("nn.Softmin", _along(SOFTMAX)),
    # --8<-- [end:family]
    inputs=kinks_and_extremes,
    bench=BENCH,
    modes=("train",),
    page="activations/index.md",
)
