"""Every module block under ``torch.compile`` against eager, saved for the Performance page.

    python benchmarks/compiled.py [--only SUBSTRING] [--backend inductor|aot_eager]
                                  [--dtype float64|float32] [--compile-threads N]
                                  [--budget-s SECONDS] [--save [PATH]]

The checks are ``python -m byhand.verify --compiled`` (``byhand.verify.compiled``): each
module entry's first case compiled with Inductor, compared with eager (forward, gradients,
buffers; float64), and ``torch._dynamo.explain``'s graph and break counts for ours and for
PyTorch's twin. ``--save`` writes them with the machine and the command to
``benchmarks/results/compiled-cpu-<date>.json`` (atomic). Compiling every block takes a while
(tens of minutes on two cores): the test suite compiles a few. ``--backend aot_eager`` traces
the same graphs (same breaks, same AOTAutograd backward) without Inductor's code generation: a
quicker full run.

A full float64 run saves as ``compiled-cpu-<date>.json`` (the Performance page's table); a run
restricted by ``--only`` or in another dtype saves as ``compiled-<backend>-<dtype>-cpu-
<date>.json``, which the page's newest-full-run rule does not pick up. ``--compile-threads``
sets Inductor's ``compile_threads`` (its parallel code-generation workers; 1 on a shared
machine). ``--budget-s``: start no block after that many seconds; the file lists the blocks
not run under ``not_run``.
"""

import argparse
import datetime
import shlex
import sys

import torch

from byhand.verify import REGISTRY
from byhand.verify.compiled import run_compiled

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from run import environment, load_average, save_report  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/compiled.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--only", default=None, metavar="SUBSTRING")
    parser.add_argument("--backend", default="inductor", choices=("inductor", "aot_eager"))
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--compile-threads", type=int, default=None, metavar="N")
    parser.add_argument("--budget-s", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--save", nargs="?", const="auto", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/compiled.py", *(argv or sys.argv[1:])])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()

    def progress(r):
        status = "ok" if r.passed else "FAIL: " + "; ".join(r.failures)
        print(f"{r.name:44} graphs {r.graphs} breaks {r.breaks} (PyTorch's "
              f"{r.theirs_breaks})  {r.compile_s:6.1f} s  {status}", flush=True)  # fmt: skip

    if args.compile_threads is not None:
        import torch._inductor.config as inductor_config

        if args.compile_threads < 1:
            parser.error(f"--compile-threads expects N >= 1, got {args.compile_threads}")
        inductor_config.compile_threads = args.compile_threads
    dtype = getattr(torch, args.dtype)
    not_run = []
    results = run_compiled(
        REGISTRY, "cpu", dtype, args.only, progress, args.backend, args.budget_s, not_run
    )
    if not results:
        print(f"{parser.prog}: error: no module entry matches --only {args.only!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    finished = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "kind": "byhand compiled",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        **environment("cpu", [torch.get_num_threads()], command),
        "dtype": args.dtype,
        "backend": args.backend,
        "compile_threads": args.compile_threads,
        "only": args.only,
        "budget_s": args.budget_s,
        "not_run": not_run,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "results": [r.to_dict() for r in results],
    }
    if args.save:
        subset = args.only is not None or args.dtype != "float64" or not_run
        name = f"compiled-{args.backend}-{args.dtype}-cpu" if subset else "compiled-cpu"
        save_report(report, args.save, name)
    return 1 if any(not r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
