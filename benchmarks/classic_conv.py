"""Fast vs naive convolution in byhand.classic, and fast vs PyTorch's F.conv2d (float64, CPU).

    python benchmarks/classic_conv.py [--json] [--batch N] [--repeat R] [--naive-repeat R]

Shapes from the seed notes: x (N, 3, 31, 31) with N = 100, w (25, 3, 3, 3), stride 2, pad 1.
Prints forward_speedup / backward_speedup (naive time / fast time), forward_vs_torch /
backward_vs_torch (fast time / F.conv2d time: below 1 means ours is faster), the thread count
both libraries ran with and the torch version. Ours and PyTorch's are timed in alternation; a
ratio is the median of the per-round ratios (robust when other processes load the machine),
times are medians. The naive loops take seconds, so they are timed on fewer repeats. The docs build calls ``measure`` on a smaller
batch (docs/hooks/fig_classic.py).
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from byhand import classic

STRIDE, PAD = 2, 1


def _time(fn, number=3):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(batch=100, repeat=15, naive_repeat=1, threads=None, naive_batch=None, seed=0):
    """Times (seconds) and ratios on x (batch, 3, 31, 31), w (25, 3, 3, 3), stride 2, pad 1.

    ``threads``: for torch and NumPy's BLAS alike (default: torch's current count).
    ``naive_batch``: time the naive loops (and, for the speedups, the fast version again) on
    the first ``naive_batch`` examples only (default: the whole batch).
    """
    saved_threads = torch.get_num_threads()
    threads = threads or saved_threads
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 31, 31))
    w = rng.standard_normal((25, 3, 3, 3))
    b = rng.standard_normal(25)
    out, fast_cache = classic.conv_forward_fast(x, w, b, STRIDE, PAD)
    dout = rng.standard_normal(out.shape)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = F.conv2d(xt, wt, bt, stride=STRIDE, padding=PAD)
    dout_t = torch.tensor(dout)

    with threadpool_limits(limits=threads):  # NumPy's BLAS on as many threads as torch
        n = naive_batch or batch
        x_small, dout_small = x[:n], dout[:n]
        _, small_cache = classic.conv_forward_fast(x_small, w, b, STRIDE, PAD)
        t = {
            "naive_forward": [],
            "naive_backward": [],
            "small_fast_forward": [],
            "small_fast_backward": [],
        }
        for _ in range(naive_repeat):
            start = time.perf_counter()
            _, naive_cache = classic.conv_forward_naive(x_small, w, b, STRIDE, PAD)
            t["naive_forward"].append(time.perf_counter() - start)
            start = time.perf_counter()
            classic.conv_backward_naive(dout_small, naive_cache)
            t["naive_backward"].append(time.perf_counter() - start)
        for _ in range(repeat):
            t["small_fast_forward"].append(
                _time(lambda: classic.conv_forward_fast(x_small, w, b, STRIDE, PAD))
            )
            t["small_fast_backward"].append(
                _time(lambda: classic.conv_backward_fast(dout_small, small_cache))
            )
        pairs = {
            "fast_forward": lambda: classic.conv_forward_fast(x, w, b, STRIDE, PAD),
            "torch_forward": lambda: F.conv2d(
                xt.detach(), wt.detach(), bt.detach(), stride=STRIDE, padding=PAD
            ),
            "fast_backward": lambda: classic.conv_backward_fast(dout, fast_cache),
            "torch_backward": lambda: torch.autograd.grad(
                out_t, (xt, wt, bt), dout_t, retain_graph=True
            ),
        }
        for fn in pairs.values():  # warm-up
            fn()
        samples = {name: [] for name in pairs}
        for _ in range(repeat):  # interleaved: load from other processes hits all four alike
            for name, fn in pairs.items():
                samples[name].append(_time(fn))
    torch.set_num_threads(saved_threads)
    times = {name: statistics.median(v) for name, v in {**t, **samples}.items()}

    def paired(ours, theirs):  # median of the per-round ratios: robust to drifting load
        return statistics.median(a / b for a, b in zip(samples[ours], samples[theirs]))

    return {
        "forward_speedup": times["naive_forward"] / times["small_fast_forward"],
        "backward_speedup": times["naive_backward"] / times["small_fast_backward"],
        "forward_vs_torch": paired("fast_forward", "torch_forward"),
        "backward_vs_torch": paired("fast_backward", "torch_backward"),
        "threads": threads,
        "torch": torch.__version__,
        "batch": batch,
        "naive_batch": n,
        "times_s": times,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--naive-repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="default: torch's count")
    parser.add_argument("--naive-batch", type=int, default=None, help="default: --batch")
    args = parser.parse_args()
    result = measure(args.batch, args.repeat, args.naive_repeat, args.threads, args.naive_batch)
    if args.json:
        keys = ("forward_speedup", "backward_speedup", "forward_vs_torch", "backward_vs_torch")
        print(
            json.dumps(
                {
                    **{k: round(result[k], 3) for k in keys},
                    "threads": result["threads"],
                    "torch": result["torch"],
                }
            )
        )
        return
    for name, seconds in result["times_s"].items():
        print(f"{name:16s} {seconds * 1e3:10.2f} ms")
    for key in ("forward_speedup", "backward_speedup", "forward_vs_torch", "backward_vs_torch"):
        print(f"{key:18s} {result[key]:10.2f}")
    print(
        f"threads {result['threads']}, torch {result['torch']}, batch {result['batch']}, "
        f"naive timed on {result['naive_batch']}"
    )


if __name__ == "__main__":
    main()
