"""The ``byhand`` command: ``byhand verify | train | bench | export | check``.

Exit codes: 0 success, 1 a check failed (``verify``) or a run diverged (``train``), 2 bad input,
always as one line on stderr.
"""

import argparse
import os
import runpy
import sys
from pathlib import Path

__all__ = ["ArgumentParser", "build_parser", "main"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), not two."""

    def error(self, message):
        # Under torchrun every process parses the same arguments: rank 0 alone says why.
        quiet = os.environ.get("RANK", "0") != "0"
        self.exit(
            2, None if quiet else f"{self.prog}: error: {message} (see {self.prog} --help)\n"
        )


def build_parser():
    """The ``byhand`` parser with one sub-parser per command."""
    from byhand import __version__
    from byhand import check as check_command
    from byhand import export as export_command
    from byhand.train import command as train_command
    from byhand.verify import __main__ as verify_command

    parser = ArgumentParser(
        prog="byhand",
        description="byhand: PyTorch's building blocks, rebuilt by hand and checked.",
    )
    parser.add_argument("--version", action="version", version=f"byhand {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    # Each command module gives add_arguments(parser) and run(args, parser).
    train_description = (
        "Train a recipe with byhand.train: CPU, CUDA or MPS, mixed precision, "
        "exact resume, several GPUs through torchrun."
    )
    for name, module, help, description in (
        ("verify", verify_command, "check every block against its PyTorch twin",
         verify_command.DESCRIPTION),
        ("train", train_command, "train a recipe (byhand train --list shows them)",
         train_description),
        ("export", export_command, "print one block as a standalone file that needs only torch",
         export_command.DESCRIPTION),
        ("check", check_command,
         "check your own block (FILE.py:NAME) against its PyTorch twin",
         check_command.DESCRIPTION),
    ):  # fmt: skip
        sub = commands.add_parser(name, help=help, description=description)
        module.add_arguments(sub)
        sub.set_defaults(subparser=sub, handler=module.run)
    bench = commands.add_parser(
        "bench",
        help="time ours against PyTorch's (runs benchmarks/run.py of a source checkout)",
        description="Time every registry entry, ours against PyTorch's twin; the options are "
        "those of benchmarks/run.py (see byhand bench -- --help).",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER, help="options of benchmarks/run.py")
    bench.set_defaults(subparser=bench, handler=_bench)
    return parser


def _bench(args, parser):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
    if not script.is_file():
        print(
            f"{parser.prog}: error: {script} not found; byhand bench needs a source checkout",
            file=sys.stderr,
        )
        return 2
    forwarded = args.args[1:] if args.args[:1] == ["--"] else args.args
    saved = sys.argv
    sys.argv = [str(script), *forwarded]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = saved
    return 0


def main(argv=None):
    """``byhand COMMAND ...``; returns the exit code (argparse's too, instead of exiting)."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        if extra:  # named by the command they were given to: "byhand verify: error: ..."
            (args.subparser if args.command else parser).error(
                f"unrecognized arguments: {' '.join(extra)}"
            )
    except SystemExit as exc:  # --help, --version (0) or a bad option (2, one line)
        return exc.code
    if args.command is None:  # usage and the list of commands, on stderr: exit 2
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args, args.subparser)


if __name__ == "__main__":
    sys.exit(main())
