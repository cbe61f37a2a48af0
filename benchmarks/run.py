"""Time every registry entry that has a ``bench`` case: ours against PyTorch's, interleaved.

    python benchmarks/run.py [--json] [--device cpu|cuda] [--dtype float32|float64]
                             [--only SUBSTRING ...] [--quick] [--threads 1,2] [--rounds N]
                             [--profile] [--save [PATH]]

Modules are timed forward (under ``no_grad``) and forward + backward (a fixed random upstream
gradient), optimizers one ``step()``. Each timing is a ``torch.utils.benchmark.Timer`` (its own
warm-up, its thread count fixed, CUDA synchronised), and ours and theirs are timed
**alternately** over several rounds: a ratio is the median of the per-round ratios ours /
theirs, and its spread the interquartile range of those ratios (load that comes and goes hits
both sides of a round alike). numpy's BLAS is pinned to the same thread count (threadpoolctl,
else ``OPENBLAS_NUM_THREADS`` and friends set before numpy loads).

Rows: ``name, device, dtype, shape, threads, timed, ours_ms, theirs_ms, ratio, spread``; the
target of a row (``TARGETS``) travels with it. ``--profile`` adds, to every row that misses its
target, a summary of where our time goes (``torch.profiler``, top operators by self time).
``--save`` writes everything, with the machine, CPU model, torch version, the command and the
load average at start and end, to ``benchmarks/results/speed-<device>-<date>.json`` (atomic);
the Performance page is drawn from those files only.

The full CPU table at 1 and 2 threads (the command behind the published results) takes about
six minutes on two quiet cores:

    python benchmarks/run.py --threads 1,2 --profile --save
"""

import argparse
import os
import sys


def _pin_blas_before_import(argv):
    """numpy's BLAS reads its thread count when it loads: set it from ``--threads`` first.

    threadpoolctl, when installed, narrows it again per thread count (``pinned_threads``).
    """
    threads = "1"
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
        elif arg == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, threads.split(",")[0].strip() or "1")


if __name__ == "__main__":
    _pin_blas_before_import(sys.argv)

import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.utils.benchmark as torch_benchmark  # noqa: E402

from byhand.verify import DTYPES, REGISTRY, SEED, ModulePair, OptimizerPair  # noqa: E402
from byhand.verify.pairs import _flatten, as_args, bench_cases  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CHAPTERS = {
    "modules": "Modules",
    "activations": "Activations",
    "losses": "Losses",
    "optim": "Optimizers",
    "classic": "Classic track",
}
ELEMENTWISE_PAGES = (
    "activations/index.md",
    "activations/rectifiers.md",
    "activations/smooth.md",
)
# (entry name, case label or None for every case, ratio ours / PyTorch to stay under).
# Targets of the speed issue, stated for CPU, 2 threads, float32, forward + backward (or step).
TARGETS = (
    ("nn.Conv2d", None, 2.0),
    ("nn.BatchNorm2d", None, 2.0),
    ("nn.LayerNorm", None, 2.0),
    ("nn.functional.scaled_dot_product_attention", None, 1.2),
    ("nn.MultiheadAttention", None, 1.5),
    ("nn.TransformerEncoderLayer", None, 1.5),
    ("nn.LSTM", None, 2.0),
    ("nn.GRU", None, 2.0),
    ("optim.Adam", None, 1.1),
    ("optim.AdamW", None, 1.1),
)
ELEMENTWISE_TARGET = 4.0  # every element-wise activation


def target_of(entry, case):
    """The ratio this (entry, case) should stay under, or ``None``."""
    for name, label, target in TARGETS:
        if entry.name == name and label in (None, case.label):
            return target
    if isinstance(entry, ModulePair) and entry.page in ELEMENTWISE_PAGES:
        return ELEMENTWISE_TARGET
    return None


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


# --- what is timed -----------------------------------------------------------------------------
def _module_steps(factory, case, device, dtype):
    """``(forward, forward_backward)`` closures over one module built from ``case``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        module = factory(**case.kwargs).to(device=device, dtype=dtype)
    made = as_args(case.inputs(torch.Generator().manual_seed(SEED), dtype))
    leaves = made.map(
        lambda x: (
            x.to(device).requires_grad_(x.is_floating_point())
            if isinstance(x, torch.Tensor)
            else x
        )
    )
    grads = [x for _, x in leaves.tensors() if isinstance(x, torch.Tensor) and x.requires_grad]
    grads += [p for p in module.parameters() if p.requires_grad]
    outputs = [o for o in _flatten(module(*leaves.args, **leaves.kwargs)) if o.requires_grad]
    generator = torch.Generator().manual_seed(SEED + 1)
    upstream = [
        torch.randn(o.shape, generator=generator, dtype=torch.float32).to(o.device, o.dtype)
        for o in outputs
    ]

    def forward():
        with torch.no_grad():
            module(*leaves.args, **leaves.kwargs)

    def forward_backward():
        for t in grads:
            t.grad = None
        outs = [o for o in _flatten(module(*leaves.args, **leaves.kwargs)) if o.requires_grad]
        torch.autograd.backward(outs, upstream)

    return {"forward": forward, "forward+backward": forward_backward if outputs else None}


def _optimizer_steps(factory, case, device, dtype):
    start, loss_fn = case.inputs(torch.Generator().manual_seed(SEED), dtype)
    params = [p.detach().clone().to(device).requires_grad_(True) for p in start]
    loss_fn(params).backward()  # gradients stay fixed: only step() is timed
    return {"step": factory(params, **case.kwargs).step}


def _steps(entry, side, case, device, dtype):
    factory = entry.ours if side == "ours" else entry.theirs
    if isinstance(entry, OptimizerPair):
        return _optimizer_steps(factory, case, device, dtype)
    return _module_steps(factory, case, device, dtype)


# --- the timer -----------------------------------------------------------------------------------
@contextlib.contextmanager
def pinned_threads(threads):
    """torch's intra-op threads and numpy's BLAS threads both set to ``threads``."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables set at import hold numpy's BLAS
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=threads)
    try:
        with limits:
            yield
    finally:
        torch.set_num_threads(before)


def blas_pinning():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return "OPENBLAS_NUM_THREADS / MKL_NUM_THREADS / OMP_NUM_THREADS set before import"
    return "threadpoolctl"


def _timer(step, threads):
    return torch_benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=threads)


def _calibrate(step, device, budget_s):
    """Calls per timing so that one timing lasts about ``budget_s`` (at least one call)."""
    for _ in range(2):  # warm-up: lazy initialisation, allocator, caches
        step()
    _sync(device)
    started = time.perf_counter()
    step()
    _sync(device)
    once = max(time.perf_counter() - started, 1e-6)
    return max(1, round(budget_s / once))


def interleaved(ours, theirs, device, threads, rounds, budget_s):
    """Time ``ours`` and ``theirs`` alternately for ``rounds`` rounds; per-call seconds each."""
    number = max(_calibrate(ours, device, budget_s), _calibrate(theirs, device, budget_s))
    timers = _timer(ours, threads), _timer(theirs, threads)
    ours_s, theirs_s = [], []
    for r in range(rounds):  # alternate which side goes first: no side always runs warm
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for side in order:
            seconds = timers[side].timeit(number).mean
            (ours_s if side == 0 else theirs_s).append(seconds)
    return ours_s, theirs_s, number


def summarise(ours_s, theirs_s):
    """Median times, median of the per-round ratios, and their interquartile range."""
    ratios = [o / t for o, t in zip(ours_s, theirs_s)]
    if len(ratios) >= 4:
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        spread = q3 - q1
    else:
        spread = max(ratios) - min(ratios)
    return {
        "ours_ms": statistics.median(ours_s) * 1e3,
        "theirs_ms": statistics.median(theirs_s) * 1e3,
        "ratio": statistics.median(ratios),
        "spread": spread,
        "ratios": [round(x, 4) for x in ratios],
    }


def profile_summary(step, device, top=8, calls=3):
    """Where ``step``'s time goes: the top operators by self time, ms per call and share."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    cuda = torch.device(device).type == "cuda"
    if cuda:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    step()
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(calls):
            step()
        _sync(device)
    attr = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr) > 0]
    total = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [
        {
            "op": e.key,
            "self_ms": getattr(e, attr) / 1e3 / calls,
            "share": getattr(e, attr) / total,
            "calls": e.count // calls,
        }
        for e in events[:top]
    ]


# --- the table -------------------------------------------------------------------------------------
def selected(entries, only):
    """(entry, case) for every bench case whose entry's name contains one of ``only``."""
    for entry in entries:
        if only and not any(part in entry.name for part in only):
            continue
        for case in bench_cases(entry):
            if not isinstance(entry, (ModulePair, OptimizerPair)):
                raise TypeError(f"{entry.name}: cannot benchmark a {type(entry).__name__}")
            yield entry, case


def chapter_of(entry):
    return CHAPTERS.get(entry.page.split("/")[0], entry.page.split("/")[0])


def bench(
    entries,
    device="cpu",
    dtype=torch.float32,
    threads=(1,),
    only=None,
    quick=False,
    profile=False,
    progress=None,
    rounds=None,
):
    """One row per (entry, bench case, thread count, what is timed)."""
    default_rounds, budget_s = (2, 0.002) if quick else (6, 0.03)
    rounds = rounds or default_rounds
    rows = []
    for entry, case in selected(entries, only):
        target = target_of(entry, case)
        for count in threads:
            with pinned_threads(count):
                ours = _steps(entry, "ours", case, device, dtype)
                theirs = _steps(entry, "theirs", case, device, dtype)
                for timed, step in ours.items():
                    if step is None or theirs.get(timed) is None:
                        continue
                    o, t, number = interleaved(
                        step, theirs[timed], device, count, rounds, budget_s
                    )
                    row = {
                        "name": entry.name,
                        "chapter": chapter_of(entry),
                        "page": entry.page,
                        "device": str(device),
                        "dtype": str(dtype).removeprefix("torch."),
                        "shape": case.label,
                        "threads": count,
                        "timed": timed,
                        **summarise(o, t),
                        "rounds": rounds,
                        "calls_per_round": number,
                        "target": target if timed != "forward" else None,
                    }
                    if profile and row["target"] is not None and row["ratio"] > target:
                        row["profile"] = profile_summary(step, device)
                    rows.append(row)
                    if progress:
                        progress(row)
    return rows


def format_row(r):
    target = f"≤{r['target']:g}" if r["target"] is not None else ""
    miss = " MISS" if r["target"] is not None and r["ratio"] > r["target"] else ""
    return (
        f"{r['name'][:34]:34} {r['shape'][:28]:28} {r['threads']:>2} {r['timed']:16} "
        f"{r['ours_ms']:9.3f} {r['theirs_ms']:9.3f} {r['ratio']:6.2f} ±{r['spread']:<5.2f} "
        f"{target}{miss}"
    )


HEADER = (
    f"{'name':34} {'shape':28} {'th':>2} {'timed':16} {'ours ms':>9} {'torch ms':>9} "
    f"{'ratio':>6} {'spread':6}"
)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device, threads, command):
    info = {
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "threads": list(threads),
        "blas_threads": blas_pinning(),
        "command": command,
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def save_report(report, path, name):
    """Write ``report`` atomically to ``path``; ``"auto"``: ``results/<name>-<date>.json``."""
    if path == "auto":
        path = RESULTS / f"{name}-{report['date'][:10]}.json"
    write_atomic(path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def _thread_counts(text):
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected thread counts like 2 or 1,2, got {text!r}")
    return counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument(
        "--only",
        action="append",
        metavar="SUBSTRING",
        help="time only entries whose name contains it (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two short rounds per row: a smoke run, not a result",
    )
    parser.add_argument(
        "--threads",
        type=_thread_counts,
        default=None,
        help="thread counts, e.g. 1,2 (default: torch's current count)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds per row (default 6)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile every row that misses its target"
    )
    parser.add_argument(
        "--save",
        nargs="?",
        const="auto",
        default=None,
        metavar="PATH",
        help="write the results file (default: benchmarks/results/speed-<device>-<date>.json)",
    )
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: --device: expected cpu, cuda or cuda:N, got "
              f"{args.device!r}", file=sys.stderr)  # fmt: skip
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{parser.prog}: error: --device {device} asked for, but "
              "torch.cuda.is_available() is False", file=sys.stderr)  # fmt: skip
        return 2
    if args.only and not any(True for _ in selected(REGISTRY, args.only)):
        print(f"{parser.prog}: error: no registry entry with a bench case matches --only "
              f"{args.only}", file=sys.stderr)  # fmt: skip
        return 2
    threads = args.threads or [torch.get_num_threads()]
    command = shlex.join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()
    if not args.json:
        print(f"torch {torch.__version__}, {device}, {args.dtype}, threads {threads}, "
              f"load average {load_start}, BLAS pinned by {blas_pinning()}")  # fmt: skip
        print(HEADER)
    rows = bench(
        REGISTRY,
        str(device),
        DTYPES[args.dtype],
        threads,
        args.only,
        args.quick,
        args.profile,
        progress=None if args.json else (lambda r: print(format_row(r), flush=True)),
        rounds=args.rounds,
    )
    finished = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "kind": "byhand speed",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        **environment(device, threads, command),
        "dtype": args.dtype,
        "quick": args.quick,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        misses = [r for r in rows if r["target"] is not None and r["ratio"] > r["target"]]
        print(f"{len(rows)} rows in {report['duration_s']} s, {len(misses)} above target; "
              f"load average at the end {report['load_average_end']}")  # fmt: skip
    if args.save:
        save_report(report, args.save, f"speed-{device.type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
