"""Registry chapter: activations (docs/activations/). One line per block through ``family``."""

from byhand.verify.pairs import Case, family
from byhand.verify.registry._inputs import elementwise, randn

BENCH = Case("(1024, 1024)", inputs=randn(1024, 1024, scale=3.0))

ENTRIES = family(
    "nn.ReLU",
    "nn.Sigmoid",
    "nn.Tanh",
    inputs=elementwise,
    bench=BENCH,
    page="activations/index.md",
)
