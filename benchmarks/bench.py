"""Time every registry entry: ours against theirs, on the entry's ``bench`` configuration.

    python benchmarks/bench.py [--device cpu|cuda] [--dtype float32|float64] [--only SUBSTRING]
                               [--repeat N] [--json PATH]

Modules are timed forward + backward, optimizers one ``step()``. Ours and theirs are timed in
the same run, interleaved, and the table reports the median of each and their ratio
(ours / theirs: above 1 means ours is slower). Speed goals are stated against this ratio.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from byhand.verify import DTYPES, REGISTRY, SEED, ModulePair, OptimizerPair
from byhand.verify.pairs import _flatten, as_args


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _module_step(factory, case, device, dtype):
    module = factory(**case.kwargs).to(device=device, dtype=dtype)
    made = as_args(case.inputs(torch.Generator().manual_seed(SEED), dtype))
    leaves = made.map(
        lambda x: (
            x.to(device).requires_grad_(x.is_floating_point())
            if isinstance(x, torch.Tensor)
            else x
        )
    )

    def step():
        out = module(*leaves.args, **leaves.kwargs)
        outputs = _flatten(out)
        sum(
            o.float().sum() for o in outputs if isinstance(o, torch.Tensor) and o.requires_grad
        ).backward()

    return step


def _optimizer_step(factory, case, device, dtype):
    start, loss_fn = case.inputs(torch.Generator().manual_seed(SEED), dtype)
    params = [p.detach().clone().to(device).requires_grad_(True) for p in start]
    loss_fn(params).backward()  # gradients stay fixed: only step() is timed
    optimizer = factory(params, **case.kwargs)
    return optimizer.step


def _median_seconds(step, device, repeat):
    for _ in range(3):  # warm-up
        step()
    times = []
    for _ in range(repeat):
        _sync(device)
        started = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench(entries, device="cpu", dtype=torch.float32, repeat=20, only=None):
    rows = []
    for entry in entries:
        if entry.bench is None or (only and only not in entry.name):
            continue
        if not isinstance(entry, (ModulePair, OptimizerPair)):
            raise TypeError(f"{entry.name}: cannot benchmark a {type(entry).__name__}")
        make = _module_step if isinstance(entry, ModulePair) else _optimizer_step
        ours = make(entry.ours, entry.bench, device, dtype)
        theirs = make(entry.theirs, entry.bench, device, dtype)
        ours_s, theirs_s = [], []
        for _ in range(3):  # interleave, so drift in machine load hits both
            ours_s.append(_median_seconds(ours, device, repeat))
            theirs_s.append(_median_seconds(theirs, device, repeat))
        o, t = statistics.median(ours_s), statistics.median(theirs_s)
        timed = "forward+backward" if isinstance(entry, ModulePair) else "step"
        rows.append(
            {
                "name": entry.name,
                "config": entry.bench.label,
                "timed": timed,
                "device": device,
                "dtype": str(dtype).removeprefix("torch."),
                "ours_ms": o * 1e3,
                "theirs_ms": t * 1e3,
                "ratio": o / t,
            }
        )
    return rows


def _write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, delete=False, suffix=".tmp"
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--only", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the rows as JSON here"
    )
    args = parser.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(
            "bench: --device cuda asked for, but torch.cuda.is_available() is False",
            file=sys.stderr,
        )
        return 2
    rows = bench(REGISTRY, args.device, DTYPES[args.dtype], args.repeat, args.only)
    print(
        f"torch {torch.__version__}, {args.device}, {args.dtype}, {torch.get_num_threads()} threads"
    )
    print(
        f"{'block':22} {'config':26} {'timed':17} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>10}"
    )
    for r in rows:
        times = f"{r['ours_ms']:9.3f} {r['theirs_ms']:9.3f} {r['ratio']:10.2f}"
        print(f"{r['name']:22} {r['config']:26} {r['timed']:17} {times}")
    if args.json:
        _write_atomic(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
