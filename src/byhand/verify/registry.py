"""The registry: one entry per hand-written block, naming its twin (or oracle) and its inputs.

Tests (``tests/test_registry.py``), ``python -m byhand.verify``, the docs build (the Verification
page and each block's "Checked against PyTorch" box) and ``benchmarks/`` all read this table.
Adding a block = write its file, add its entry here, write its page.
"""

import torch

import byhand
from byhand.verify.pairs import Case, ModulePair, OptimizerPair

# Activations are fed ordinary values, exact zeros (where the kinks are) and magnitudes at which
# a naive e^x overflows (e^800 is inf even in float64).
EXTREMES = (0.0, -0.0, 1e-8, -1e-8, 20.0, -20.0, 50.0, -50.0, 800.0, -800.0)


BENCH_ACTIVATION = Case(
    "(1024, 1024)", inputs=lambda g, dtype: (3 * torch.randn(1024, 1024, generator=g, dtype=dtype),)
)


def _activation_inputs(generator, dtype):
    x = 3 * torch.randn(4, 6, generator=generator, dtype=dtype)
    return (torch.cat([x.flatten(), torch.tensor(EXTREMES, dtype=dtype)]).reshape(2, 17),)


def _pair_of(*shape):
    return lambda g, dtype: tuple(torch.randn(*shape, generator=g, dtype=dtype) for _ in range(2))


def _logits_and_classes(n=6, classes=5, extra=(), ignore=None):
    def make(g, dtype):
        logits = 2 * torch.randn(n, classes, *extra, generator=g, dtype=dtype)
        target = torch.randint(0, classes, (n, *extra), generator=g)
        if ignore is not None:
            target[::3] = ignore  # every third sample is ignored
        return logits, target

    return make


def _unbatched(g, dtype):
    return torch.randn(5, generator=g, dtype=dtype), torch.tensor(3)


def _probabilities(g, dtype):
    logits = torch.randn(6, 5, 3, generator=g, dtype=dtype)
    target = torch.softmax(torch.randn(6, 5, 3, generator=g, dtype=dtype), dim=1)
    return logits, target


CLASS_WEIGHT = (0.5, 2.0, 1.0, 0.25, 3.0)


def _least_squares(generator, dtype, n=16, d_in=3, d_out=4):
    """A small regression with a non-convex twist: parameters W (d_out, d_in) and b (d_out,)."""
    x = torch.randn(n, d_in, generator=generator, dtype=dtype)
    y = torch.randn(n, d_out, generator=generator, dtype=dtype)
    start = [torch.randn(d_out, d_in, generator=generator, dtype=dtype), torch.zeros(d_out, dtype=dtype)]

    def loss(params):
        w, b = params
        pred = torch.tanh(x.to(w.device) @ w.T + b)
        return ((pred - y.to(w.device)) ** 2).mean()

    return start, loss


def _two_groups(params):
    w, b = params
    return [{"params": [w]}, {"params": [b], "lr": 0.02, "momentum": 0.5}]


REGISTRY = (
    # --8<-- [start:linear]
    ModulePair(
        name="nn.Linear",
        reference="torch.nn.Linear",
        ours=byhand.nn.Linear,
        theirs=torch.nn.Linear,
        inputs=lambda g, dtype: (torch.randn(4, 7, generator=g, dtype=dtype),),
        cases=(
            Case("bias", dict(in_features=7, out_features=5)),
            Case("no bias", dict(in_features=7, out_features=5, bias=False)),
            Case(
                "input (2, 3, 7)",
                dict(in_features=7, out_features=5),
                inputs=lambda g, dtype: (torch.randn(2, 3, 7, generator=g, dtype=dtype),),
            ),
        ),
        page="modules/linear.md",
        bench=Case(
            "(512, 1024) → 1024",
            dict(in_features=1024, out_features=1024),
            inputs=lambda g, dtype: (torch.randn(512, 1024, generator=g, dtype=dtype),),
        ),
    ),
    # --8<-- [end:linear]
    ModulePair(
        name="nn.ReLU",
        reference="torch.nn.ReLU",
        ours=byhand.nn.ReLU,
        theirs=torch.nn.ReLU,
        inputs=_activation_inputs,
        bench=BENCH_ACTIVATION,
        page="activations/index.md",
    ),
    ModulePair(
        name="nn.Sigmoid",
        reference="torch.nn.Sigmoid",
        ours=byhand.nn.Sigmoid,
        theirs=torch.nn.Sigmoid,
        inputs=_activation_inputs,
        bench=BENCH_ACTIVATION,
        page="activations/index.md",
    ),
    ModulePair(
        name="nn.Tanh",
        reference="torch.nn.Tanh",
        ours=byhand.nn.Tanh,
        theirs=torch.nn.Tanh,
        inputs=_activation_inputs,
        bench=BENCH_ACTIVATION,
        page="activations/index.md",
    ),
    ModulePair(
        name="nn.MSELoss",
        reference="torch.nn.MSELoss",
        ours=byhand.nn.MSELoss,
        theirs=torch.nn.MSELoss,
        inputs=_pair_of(4, 5),
        bench=Case("(1024, 1024)", inputs=_pair_of(1024, 1024)),
        cases=tuple(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
        modes=("train",),
        page="losses/mse.md",
    ),
    ModulePair(
        name="nn.CrossEntropyLoss",
        reference="torch.nn.CrossEntropyLoss",
        ours=byhand.nn.CrossEntropyLoss,
        theirs=torch.nn.CrossEntropyLoss,
        inputs=_logits_and_classes(),
        bench=Case("(4096, 1000) logits", inputs=_logits_and_classes(n=4096, classes=1000)),
        cases=(
            *(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
            Case("weight", dict(weight=torch.tensor(CLASS_WEIGHT))),
            Case("ignore_index", dict(ignore_index=2), inputs=_logits_and_classes(ignore=2)),
            Case(
                "weight + ignore_index + label_smoothing",
                dict(weight=torch.tensor(CLASS_WEIGHT), ignore_index=-100, label_smoothing=0.1),
                inputs=_logits_and_classes(ignore=-100),
            ),
            Case("(N, C, d1, d2)", dict(), inputs=_logits_and_classes(extra=(3, 2))),
            Case("unbatched (C,)", dict(), inputs=_unbatched),
            Case("probabilities", dict(label_smoothing=0.2, weight=torch.tensor(CLASS_WEIGHT)), inputs=_probabilities),
        ),
        modes=("train",),
        page="losses/cross-entropy.md",
    ),
    OptimizerPair(
        name="optim.SGD",
        reference="torch.optim.SGD",
        ours=byhand.optim.SGD,
        theirs=torch.optim.SGD,
        problem=_least_squares,
        cases=(
            Case("plain", dict(lr=0.1)),
            Case("momentum + dampening", dict(lr=0.05, momentum=0.9, dampening=0.3)),
            Case("nesterov + weight_decay", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
            Case("maximize + weight_decay", dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True)),
            Case("two param groups", dict(lr=0.1, momentum=0.9), param_groups=_two_groups),
        ),
        steps=20,
        page="optim/sgd.md",
        bench=Case(
            "momentum, W (512, 512)",
            dict(lr=0.01, momentum=0.9),
            inputs=lambda g, dtype: _least_squares(g, dtype, n=256, d_in=512, d_out=512),
        ),
    ),
)


def entry(name):
    """The registry entry called ``name`` (e.g. ``"nn.Linear"``)."""
    for item in REGISTRY:
        if item.name == name:
            return item
    raise KeyError(f"no registry entry named {name!r}; known: {', '.join(e.name for e in REGISTRY)}")
