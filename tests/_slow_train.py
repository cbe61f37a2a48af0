"""``byhand train`` slowed down by a sleep after every step (the maths untouched), so that
tests/test_train.py can SIGKILL it mid-epoch. Arguments: those of ``byhand train``.
"""

import sys
import time

import byhand.train.loop as loop
from byhand.cli import main

step = loop.train_step


def slow_step(*args, **kwargs):
    result = step(*args, **kwargs)
    time.sleep(0.03)
    return result


loop.train_step = slow_step
sys.exit(main(["train", *sys.argv[1:]]))
