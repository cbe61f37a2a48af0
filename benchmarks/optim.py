"""Adam's step over a ResNet-18-sized parameter list: byhand against torch.optim, both forms.

    python benchmarks/optim.py [--device cpu|cuda] [--repeat N] [--rounds N] [--threads N]
                               [--json PATH]

62 float32 tensors holding 11.2 M parameters (ResNet-18 for CIFAR-10), gradients fixed, only
``step()`` timed. Four optimizers are timed in the same run, interleaved: byhand's vectorised
form (``foreach=True``, its default), byhand's per-parameter loop (``foreach=False``), and
PyTorch's ``Adam`` with ``foreach=True`` and ``foreach=False``. Ratios are ours / PyTorch's in
the same form; above 1 means ours is slower. On the CPU the process's CPU time per step is
reported beside the wall-clock time: on a machine shared with other work it is the steadier of
the two.
"""

import argparse
import json
import statistics
import sys
import time

import torch

import byhand
from byhand.verify import SEED
from byhand.verify.registry.optim import resnet18_sized


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _stepper(factory, device, foreach):
    start, loss_fn = resnet18_sized(torch.Generator().manual_seed(SEED), torch.float32)
    params = [p.to(device).requires_grad_(True) for p in start]
    loss_fn(params).backward()
    return factory(params, lr=1e-3, foreach=foreach).step, params


def _median_ms(step, device, repeat):
    """Median wall-clock and CPU milliseconds of one ``step()``."""
    step()
    _sync(device)
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        _sync(device)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(
            "optim bench: --device cuda asked for, but CUDA is not available", file=sys.stderr
        )
        return 2
    variants = {
        ("byhand", "foreach"): (byhand.optim.Adam, True),
        ("torch", "foreach"): (torch.optim.Adam, True),
        ("byhand", "loop"): (byhand.optim.Adam, False),
        ("torch", "loop"): (torch.optim.Adam, False),
    }
    steppers = {key: _stepper(f, args.device, fe)[0] for key, (f, fe) in variants.items()}
    samples = {key: [] for key in variants}
    for _ in range(args.rounds):  # interleaved, so drift in machine load hits every variant
        for key, step in steppers.items():
            samples[key].append(_median_ms(step, args.device, args.repeat))
    ms = {key: statistics.median(w for w, _ in v) for key, v in samples.items()}
    cpu_ms = {key: statistics.median(c for _, c in v) for key, v in samples.items()}
    numel = sum(p.numel() for p in resnet18_sized(torch.Generator(), torch.float32)[0])
    print(f"Adam step, {numel / 1e6:.2f} M float32 parameters in 62 tensors, {args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    rows = []
    for form in ("foreach", "loop"):
        ours, theirs = ms[("byhand", form)], ms[("torch", form)]
        ours_cpu, theirs_cpu = cpu_ms[("byhand", form)], cpu_ms[("torch", form)]
        rows.append(
            dict(form=form, ours_ms=ours, theirs_ms=theirs, ratio=ours / theirs,
                 ours_cpu_ms=ours_cpu, theirs_cpu_ms=theirs_cpu, cpu_ratio=ours_cpu / theirs_cpu)
        )  # fmt: skip
        print(f"  {form:8} wall: byhand {ours:8.2f} ms  torch {theirs:8.2f} ms  "
              f"ours/torch {ours / theirs:5.2f}   CPU time: ours/torch "
              f"{ours_cpu / theirs_cpu:5.2f}")  # fmt: skip
    loop_vs_foreach = ms[("byhand", "loop")] / ms[("torch", "foreach")]
    cpu_loop = cpu_ms[("byhand", "loop")] / cpu_ms[("torch", "foreach")]
    print(
        f"  byhand loop / torch foreach: wall {loop_vs_foreach:5.2f}, CPU time {cpu_loop:5.2f}"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(device=args.device, rows=rows, loop_vs_foreach=loop_vs_foreach),
                      handle, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
