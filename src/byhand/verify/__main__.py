"""``python -m byhand.verify`` / ``byhand verify [--json] [--device cpu|cuda] [--dtype
float64|float32] [--only SUBSTRING] [--torch-tables | --compiled]``.

Runs every registry check on this machine and prints a table (or JSON). Exit code 1 if any
fails.
"""

import argparse
import json
import sys

import torch

from byhand.cli import ArgumentParser
from byhand.verify.pairs import DTYPES
from byhand.verify.pairs import run as run_checks
from byhand.verify.registry import REGISTRY

DESCRIPTION = " ".join(__doc__.split("\n\n")[1].split())  # the docstring's second paragraph


def _device(text):
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``; an ``ArgumentTypeError`` otherwise."""
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return device


def add_arguments(parser):
    """The options of ``byhand verify`` / ``python -m byhand.verify``."""
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of results instead of a table"
    )
    parser.add_argument(
        "--device",
        default=torch.device("cpu"),
        type=_device,
        help="device to check on: cpu, cuda or cuda:N (default: cpu)",
    )
    parser.add_argument(
        "--dtype", default="float64", choices=sorted(DTYPES), help="dtype (default: float64)"
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="SUBSTRING",
        help="check only entries whose name contains it",
    )
    parser.add_argument(
        "--torch-tables",
        action="store_true",
        help="run PyTorch's own module_db / optim_db inputs against byhand's classes instead",
    )
    parser.add_argument(
        "--backend",
        default="inductor",
        choices=("inductor", "aot_eager"),
        help="torch.compile backend for --compiled (default: inductor)",
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="run each module entry under torch.compile and compare it with eager "
        "(and count graph breaks, ours and PyTorch's) instead",
    )
    return parser


def parse_args(argv=None):
    parser = add_arguments(
        ArgumentParser(prog="python -m byhand.verify", description=DESCRIPTION)
    )
    return parser.parse_args(argv), parser


def format_table(results):
    """A plain-text table: one row per (entry, case, mode), worst error over all quantities."""
    header = (
        "name",
        "case",
        "mode",
        "device",
        "dtype",
        "max abs err",
        "worst quantity",
        "status",
    )
    rows = []
    for r in results:
        worst = max(r.max_abs_err.items(), key=lambda kv: kv[1], default=("-", 0.0))
        status = "ok" if r.passed else "FAIL: " + "; ".join(r.failures)
        rows.append(
            (r.name, r.case, r.mode, r.device, r.dtype, f"{worst[1]:.2e}", worst[0], status)
        )
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        lines.append(
            "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]
        )
    return "\n".join(lines)


def main(argv=None):
    """``python -m byhand.verify``; returns the exit code (argparse's too, not exiting)."""
    try:
        args, parser = parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2, one line on stderr)
        return exc.code
    return run(args, parser)


def run(args, parser):
    """Returns the exit code (1: a check failed, 2: bad input)."""
    device = args.device
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            f"{parser.prog}: error: --device {device} was asked for, "
            "but torch.cuda.is_available() is False",
            file=sys.stderr,
        )
        return 2
    if args.torch_tables:
        return _torch_tables(args, device)
    if args.compiled:
        return _compiled(args, device, parser)
    results = run_checks(REGISTRY, device=str(device), dtype=DTYPES[args.dtype], only=args.only)
    if not results:
        print(
            f"{parser.prog}: error: no registry entry matches --only {args.only!r}",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        failed = sum(not r.passed for r in results)
        print(format_table(results))
        print(f"\n{len(results) - failed} passed, {failed} failed (torch {torch.__version__})")
    return 1 if any(not r.passed for r in results) else 0


def _torch_tables(args, device):
    """``--torch-tables``: every module_db / optim_db input; exit 1 if one fails."""
    import warnings

    from byhand.verify import torch_tables

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = torch_tables.run(device=str(device), dtype=DTYPES[args.dtype], only=args.only)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            if r.status != "pass":
                print(f"{r.status:4}  {r.table}  {r.name} [{r.desc}, {r.mode}]: {r.reason}")
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
        print(
            f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
            f"(PyTorch's module_db / optim_db inputs, torch {torch.__version__})"
        )
    return 1 if any(r.status == "fail" for r in results) else 0


def _compiled(args, device, parser):
    """``--compiled``: every module entry compiled against eager; exit 1 if one differs."""
    from byhand.verify.compiled import run_compiled

    def progress(r):
        if not args.json:
            status = "ok" if r.passed else "FAIL: " + "; ".join(r.failures)
            print(
                f"{r.name:44} breaks {r.breaks} (PyTorch's {r.theirs_breaks})  "
                f"{r.compile_s:6.1f} s  {status}",
                flush=True,
            )

    results = run_compiled(
        REGISTRY, device=str(device), dtype=DTYPES[args.dtype], only=args.only,
        progress=progress, backend=args.backend,
    )  # fmt: skip
    if not results:
        print(f"{parser.prog}: error: no module entry matches --only {args.only!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        failed = sum(not r.passed for r in results)
        extra = sum(bool(r.extra_breaks) for r in results)
        print(f"\n{len(results) - failed} compiled = eager, {failed} differ; {extra} break "
              f"where PyTorch's block does not (torch {torch.__version__})")  # fmt: skip
    return 1 if any(not r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
