"""Registry chapter: ``Linear`` (docs/modules/linear.md)."""

from byhand.verify.pairs import Case, twin
from byhand.verify.registry._inputs import randn

ENTRIES = (
    # --8<-- [start:linear]
    twin(
        "nn.Linear",
        inputs=randn(4, 7),
        cases=(
            Case("bias", dict(in_features=7, out_features=5)),
            Case("no bias", dict(in_features=7, out_features=5, bias=False)),
            Case("input (2, 3, 7)", dict(in_features=7, out_features=5), inputs=randn(2, 3, 7)),
        ),
        page="modules/linear.md",
        bench=Case(
            "(512, 1024) → 1024",
            dict(in_features=1024, out_features=1024),
            inputs=randn(512, 1024),
        ),
    ),
    # --8<-- [end:linear]
)
