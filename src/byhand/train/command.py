"""``byhand train RECIPE [options]``: the command line of the training engine.

Exit codes: 0 done, 1 the loss became NaN or infinite, 2 bad input (one line on stderr),
130 stopped by Ctrl-C after writing a checkpoint.
"""

import argparse
import dataclasses
import os
import sys

from byhand.train.amp import PRECISIONS
from byhand.train.device import DEVICE_CHOICES
from byhand.train.recipes import RECIPES

__all__ = ["add_arguments", "run"]


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}"
            )
        return value

    return parse


def _number(text):
    """A float; its range is checked with the other settings (one line, exit 2)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def add_arguments(parser):
    """The options of ``byhand train``; defaults of ``None`` take the recipe's value."""
    parser.add_argument(
        "recipe", nargs="?", metavar="RECIPE", help=f"what to train: {', '.join(RECIPES)}"
    )
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument(
        "--out", default="runs/train", metavar="DIR", help="output folder (default: runs/train)"
    )
    parser.add_argument("--epochs", type=_positive(int), help="epochs (default: the recipe's)")
    parser.add_argument(
        "--batch-size",
        type=_positive(int),
        help="global batch size, split across torchrun processes (default: the recipe's)",
    )
    parser.add_argument("--lr", type=_positive(float), help="peak learning rate")
    parser.add_argument(
        "--momentum", type=_number, help="SGD momentum, >= 0 (default: the recipe's)"
    )
    parser.add_argument("--weight-decay", type=_number, help="SGD weight decay, >= 0")
    parser.add_argument(
        "--warmup-epochs",
        type=_number,
        help="linear warm-up length before the cosine decay, 0 <= W < epochs",
    )
    parser.add_argument(
        "--clip-grad-norm", type=_positive(float), metavar="MAX", help="clip the gradient norm"
    )
    parser.add_argument("--device", default="auto", help=f"{DEVICE_CHOICES} (default: auto)")
    parser.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        help="autocast (default: the recipe's on CUDA, fp32 elsewhere)",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        help="NHWC memory format for 4-D tensors (default: the recipe's on CUDA, else off)",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--seed", type=int, default=0, help="seed of every RNG (default: 0)")
    parser.add_argument(
        "--deterministic", action="store_true", help="deterministic kernels only"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="CHECKPOINT",
        help="continue from CHECKPOINT, a checkpoint file or a run folder (default: "
        "the --out folder's checkpoint-last.pt); the settings must be the checkpoint's",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an --out folder that already holds a run (replacing its files)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_non_negative_int,
        default=0,
        metavar="STEPS",
        help="also write checkpoint-last.pt every STEPS steps (default: each epoch only)",
    )
    parser.add_argument(
        "--data", metavar="DIR", help="data folder (default: the copy bundled with a package)"
    )
    parser.add_argument(
        "--download", action="store_true", help="put the data into --data DIR first"
    )
    parser.add_argument(
        "--synthetic",
        type=_positive(int),
        metavar="N",
        help="N random samples of the recipe's shape instead of data (throughput runs)",
    )
    parser.add_argument(
        "--workers", type=_non_negative_int, default=0, help="DataLoader workers (default: 0)"
    )
    parser.add_argument(
        "--threads",
        type=_non_negative_int,
        default=0,
        help="CPU threads per process for torch's ops (default: 0, torch's own choice)",
    )
    parser.add_argument(
        "--impl",
        default="byhand",
        choices=["byhand", "torch"],
        help="build model, loss and optimizer from byhand or from torch (default: byhand)",
    )
    parser.add_argument(
        "--sync-bn", action="store_true", help="batch norm over the global batch (torchrun)"
    )
    return parser


def run(args, parser=None):
    """Run ``byhand train`` with parsed ``args``; returns the exit code."""
    prog = parser.prog if parser is not None else "byhand train"
    if args.list:
        width = max(map(len, RECIPES))
        for name, recipe in RECIPES.items():
            print(f"{name:<{width}}  {recipe.summary}")
        return 0
    if args.recipe is None:
        return _fail(prog, f"a RECIPE is needed, one of: {', '.join(RECIPES)} (see --list)")
    from byhand.data import DataFormatError
    from byhand.train.errors import LossNotFinite, UsageError
    from byhand.train.loop import Interrupted
    from byhand.train.run import TrainConfig, train

    options = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if f.name in args
    }
    try:
        train(TrainConfig(**options))
    except (UsageError, DataFormatError) as exc:
        return _fail(prog, str(exc))
    except LossNotFinite as exc:
        _say(f"{prog}: {exc}")
        return 1
    except Interrupted as exc:
        _say(f"{prog}: {exc}")
        return 130
    return 0


def _say(line):
    """One line on stderr, from rank 0 only under torchrun (every rank hits the same error)."""
    if os.environ.get("RANK", "0") == "0":
        print(line, file=sys.stderr, flush=True)


def _fail(prog, message):
    _say(f"{prog}: error: {message}")
    return 2
