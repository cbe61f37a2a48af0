"""Run under ``torchrun --standalone --nproc_per_node=2`` by tests/test_train.py.

Joins the gloo process group once, then trains each run named on the command line through
``byhand.cli.main`` (``NAME:ARG,ARG,...``), each into ``OUT/NAME``.
"""

import sys

import torch.distributed as dist

from byhand.cli import main

out = sys.argv[1]
dist.init_process_group("gloo")
for spec in sys.argv[2:]:
    name, args = spec.split(":", 1)
    code = main(["train", *args.split(","), "--out", f"{out}/{name}"])
    if code != 0:
        sys.exit(code)
dist.destroy_process_group()
