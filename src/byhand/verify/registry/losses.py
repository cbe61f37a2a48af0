"""Registry chapter: losses (docs/losses/)."""

import torch

from byhand.verify.pairs import Case, twin
from byhand.verify.registry._inputs import pair_of

CLASS_WEIGHT = (0.5, 2.0, 1.0, 0.25, 3.0)


def logits_and_classes(n=6, classes=5, extra=(), ignore=None, every=3):
    """Logits ``(n, classes, *extra)`` and class indices; every ``every``-th target set to
    ``ignore``.
    """

    def make(g, dtype):
        logits = 2 * torch.randn(n, classes, *extra, generator=g, dtype=dtype)
        target = torch.randint(0, classes, (n, *extra), generator=g)
        if ignore is not None:
            target[::every] = ignore
        return logits, target

    return make


def _unbatched(g, dtype):
    return torch.randn(5, generator=g, dtype=dtype), torch.tensor(3)


def _probabilities(g, dtype):
    logits = torch.randn(6, 5, 3, generator=g, dtype=dtype)
    target = torch.softmax(torch.randn(6, 5, 3, generator=g, dtype=dtype), dim=1)
    return logits, target


ENTRIES = (
    twin(
        "nn.MSELoss",
        inputs=pair_of(4, 5),
        bench=Case("(1024, 1024)", inputs=pair_of(1024, 1024)),
        cases=tuple(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
        modes=("train",),
        page="losses/mse.md",
    ),
    twin(
        "nn.CrossEntropyLoss",
        inputs=logits_and_classes(),
        bench=Case("(4096, 1000) logits", inputs=logits_and_classes(n=4096, classes=1000)),
        cases=(
            *(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
            Case("weight", dict(weight=torch.tensor(CLASS_WEIGHT))),
            Case("ignore_index", dict(ignore_index=2), inputs=logits_and_classes(ignore=2)),
            Case(
                "weight + ignore_index + label_smoothing",
                dict(weight=torch.tensor(CLASS_WEIGHT), ignore_index=-100, label_smoothing=0.1),
                inputs=logits_and_classes(ignore=-100),
            ),
            # PyTorch: NaN loss (0/0) with a zero gradient, not a NaN one.
            Case(
                "every target ignored",
                dict(ignore_index=-100),
                inputs=logits_and_classes(ignore=-100, every=1),
            ),
            Case("(N, C, d1, d2)", dict(), inputs=logits_and_classes(extra=(3, 2))),
            Case("unbatched (C,)", dict(), inputs=_unbatched),
            Case(
                "probabilities",
                dict(label_smoothing=0.2, weight=torch.tensor(CLASS_WEIGHT)),
                inputs=_probabilities,
            ),
        ),
        modes=("train",),
        page="losses/cross-entropy.md",
    ),
)
