"""Run under ``torchrun --standalone --nproc_per_node=2`` by tests/test_train.py.

Joins the gloo process group once, then trains each run named on the command line through
``byhand.cli.main`` (``NAME:ARG,ARG,...``), each into ``OUT/NAME``; a run whose
``model-final.pt`` exists is skipped, and one with a ``checkpoint-last.pt`` is resumed. A run
called ``killed`` SIGKILLs rank 1 in its 7th step when it starts afresh (torchrun then stops
the other process and fails); a second torchrun resumes it. A usage error (exit 2) is recorded
in ``OUT/NAME.code`` and the script goes on.

Registers ``digits-dropout``: the digits MLP with dropout, whose masks come from each process's
own random stream (seeded with seed + rank), so a resume that restored the wrong process's
random state would end on other weights.
"""

import os
import signal
import sys
from pathlib import Path

import torch.distributed as dist

import byhand.train.loop as loop
from byhand.cli import main
from byhand.train import RECIPES, Recipe, namespace, register


def digits_dropout(impl="byhand"):
    nn = namespace(impl)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


mlp = RECIPES["digits-mlp"]
register(Recipe("digits-dropout", "MLP with dropout", digits_dropout, mlp.datasets, 1, 32, 0.1))

rank = int(os.environ["RANK"])
real_step, steps = loop.train_step, []


def kill_rank_1_at_step_7(*args):
    steps.append(1)
    if rank == 1 and len(steps) == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_step(*args)


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
dist.init_process_group("gloo")
for spec in sys.argv[2:]:
    name, args = spec.split(":", 1)
    folder = out / name
    if (folder / "model-final.pt").exists() or (out / f"{name}.code").exists():
        continue
    resume = ["--resume"] if (folder / "checkpoint-last.pt").exists() else []
    loop.train_step = kill_rank_1_at_step_7 if name == "killed" and not resume else real_step
    code = main(["train", *args.split(","), "--out", str(folder), *resume])
    if code == 2:
        (out / f"{name}.code").write_text(str(code))
    elif code != 0:
        sys.exit(code)
dist.destroy_process_group()
