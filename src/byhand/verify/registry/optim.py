"""Registry chapter: optimizers (docs/optim/)."""

import torch

import byhand
from byhand.verify.pairs import Case, OptimizerPair


def least_squares(generator, dtype, n=16, d_in=3, d_out=4):
    """A small regression with a non-convex twist: parameters W (d_out, d_in) and b (d_out,)."""
    x = torch.randn(n, d_in, generator=generator, dtype=dtype)
    y = torch.randn(n, d_out, generator=generator, dtype=dtype)
    start = [
        torch.randn(d_out, d_in, generator=generator, dtype=dtype),
        torch.zeros(d_out, dtype=dtype),
    ]

    def loss(params):
        w, b = params
        pred = torch.tanh(x.to(w.device) @ w.T + b)
        return ((pred - y.to(w.device)) ** 2).mean()

    return start, loss


def two_groups(params):
    w, b = params
    return [{"params": [w]}, {"params": [b], "lr": 0.02, "momentum": 0.5}]


ENTRIES = (
    OptimizerPair(
        name="optim.SGD",
        reference="torch.optim.SGD",
        ours=byhand.optim.SGD,
        theirs=torch.optim.SGD,
        problem=least_squares,
        cases=(
            Case("plain", dict(lr=0.1)),
            Case("momentum + dampening", dict(lr=0.05, momentum=0.9, dampening=0.3)),
            Case(
                "nesterov + weight_decay",
                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            ),
            Case(
                "maximize + weight_decay",
                dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True),
            ),
            Case("two param groups", dict(lr=0.1, momentum=0.9), param_groups=two_groups),
        ),
        steps=20,
        page="optim/sgd.md",
        bench=Case(
            "momentum, W (512, 512)",
            dict(lr=0.01, momentum=0.9),
            inputs=lambda g, dtype: least_squares(g, dtype, n=256, d_in=512, d_out=512),
        ),
    ),
)
