"""Ours / PyTorch for every element-wise activation, forward + backward on (1024, 1024) float32.

    python benchmarks/activation_speed.py [--repeat N] [--only NAME] [--threads N]

On a shared machine a median is dragged around by other processes; this script times ours and
PyTorch's alternately and keeps the **fastest** of ``repeat`` runs of each, the closest estimate
of the uncontended cost. ``bench.py`` (medians) gives the same rows from the registry.
"""

import argparse
import time

import torch

import byhand

NAMES = [
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "Sigmoid", "Tanh", "Softplus",
    "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Hardtanh", "Softsign", "LogSigmoid",
]  # fmt: skip


def fastest(module, x, repeat):
    """The fastest of ``repeat`` forward + backward passes, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        x.grad = None
        started = time.perf_counter()
        module(x).sum().backward()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    x = 3 * torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, fastest of {args.repeat}"
    )
    print(f"{'block':12} {'ours ms':>8} {'torch ms':>8} {'ours/torch':>10}")
    for name in NAMES:
        if args.only and args.only != name:
            continue
        ours, theirs = getattr(byhand.nn, name)(), getattr(torch.nn, name)()
        for module in (ours, theirs):  # warm-up
            fastest(module, x, 3)
        o = t = float("inf")
        for _ in range(3):  # alternate, so a burst of load hits both
            o = min(o, fastest(ours, x, args.repeat))
            t = min(t, fastest(theirs, x, args.repeat))
        print(f"{name:12} {o * 1e3:8.3f} {t * 1e3:8.3f} {o / t:10.2f}")


if __name__ == "__main__":
    main()
