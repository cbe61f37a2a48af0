"""Conv2d speed, ours / PyTorch, forward + backward, in one run (interleaved):

    python benchmarks/conv.py [--threads 2] [--repeat 5] [--json PATH] [--profile]

Rows: the issue's shape (32, 64, 32, 32) 64→64 k3 pad 1 in both memory formats of the input, a
1×1 conv, stride 2, depthwise (groups = C), im2col on the same shape, and the loop version on a
small input. ``--profile`` prints where the time of one fast forward + backward goes.
"""

import argparse
import json
import statistics
import sys
import time

import torch

from byhand.nn import functional as F

TF = torch.nn.functional


def _step(conv, x, weight, bias, kwargs):
    def run():
        x.grad = weight.grad = bias.grad = None
        conv(x, weight, bias, **kwargs).sum().backward()

    return run


def _median_ms(step, repeat):
    step()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def rows(repeat):
    g = torch.Generator().manual_seed(0)
    big = (32, 64, 32, 32)
    configs = [
        ("k3 p1, NCHW", F.conv2d, big, (64, 64, 3, 3), dict(padding=1), False),
        ("k3 p1, channels_last", F.conv2d, big, (64, 64, 3, 3), dict(padding=1), True),
        ("k1, NCHW", F.conv2d, big, (64, 64, 1, 1), {}, False),
        (
            "k3 stride 2 p1, NCHW",
            F.conv2d,
            big,
            (64, 64, 3, 3),
            dict(stride=2, padding=1),
            False,
        ),
        (
            "depthwise k3 p1, NCHW",
            F.conv2d,
            big,
            (64, 1, 3, 3),
            dict(padding=1, groups=64),
            False,
        ),
        ("im2col k3 p1, NCHW", F.conv2d_im2col, big, (64, 64, 3, 3), dict(padding=1), False),
        (
            "loop k3 p1, (2,16,12,12)",
            F.conv2d_loop,
            (2, 16, 12, 12),
            (16, 16, 3, 3),
            dict(padding=1),
            False,
        ),
    ]
    out = []
    for label, ours, shape, wshape, kwargs, channels_last in configs:
        x = torch.randn(*shape, generator=g)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
        x.requires_grad_(True)
        weight = torch.randn(*wshape, generator=g).requires_grad_(True)
        bias = torch.randn(wshape[0], generator=g).requires_grad_(True)
        ours_ms, theirs_ms = [], []
        for _ in range(3):  # interleaved: drift in machine load hits both
            ours_ms.append(_median_ms(_step(ours, x, weight, bias, kwargs), repeat))
            theirs_ms.append(_median_ms(_step(TF.conv2d, x, weight, bias, kwargs), repeat))
        o, t = statistics.median(ours_ms), statistics.median(theirs_ms)
        out.append(dict(config=label, ours_ms=o, theirs_ms=t, ratio=o / t))
    return out


def profile():
    x = torch.randn(32, 64, 32, 32, requires_grad=True)
    weight = torch.randn(64, 64, 3, 3, requires_grad=True)
    bias = torch.randn(64, requires_grad=True)
    step = _step(F.conv2d, x, weight, bias, dict(padding=1))
    step()
    with torch.profiler.profile() as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, cpu, float32, {torch.get_num_threads()} threads")
    print(f"{'conv2d fwd+bwd':28} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>10}")
    results = rows(args.repeat)
    for r in results:
        print(f"{r['config']:28} {r['ours_ms']:9.1f} {r['theirs_ms']:9.1f} {r['ratio']:10.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    if args.profile:
        profile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
