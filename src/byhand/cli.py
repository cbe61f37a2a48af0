"""The ``byhand`` command: ``byhand verify [...]`` (same options as ``python -m
byhand.verify``).
"""

import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="byhand", description="byhand: PyTorch's building blocks, by hand."
    )
    parser.add_argument(
        "command", choices=["verify"], help="verify: check every block against its twin"
    )
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="options of the command (see byhand verify --help)",
    )
    ns = parser.parse_args(argv[:1])
    if ns.command == "verify":
        from byhand.verify.__main__ import main as verify_main

        return verify_main(argv[1:])
    return 2


if __name__ == "__main__":
    sys.exit(main())
