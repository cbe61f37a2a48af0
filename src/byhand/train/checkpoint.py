"""Checkpoints written atomically and read back with ``torch.load(weights_only=True)``.

A save writes a temporary file in the same folder, flushes and ``fsync``\\ s it, then
``os.replace``\\ s it over the old name: a reader (or a resumed run) sees the whole old file or
the whole new one, never half of either, even when the process dies mid-save.
"""

import os
import pickle
import zipfile
from pathlib import Path

import torch

from byhand.train.errors import UsageError

__all__ = ["CheckpointError", "save_atomic", "load_checkpoint"]


class CheckpointError(UsageError):
    """A checkpoint that cannot be used: missing, cut short, corrupt, unsafe or not ours."""


# --8<-- [start:save_atomic]
def save_atomic(obj, path):
    """``torch.save(obj)`` to ``path`` so that ``path`` always holds a complete file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)  # atomic on POSIX and Windows
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


# --8<-- [end:save_atomic]


def load_checkpoint(path, map_location="cpu"):
    """The object saved at ``path``, read with ``weights_only=True``; else ``CheckpointError``.

    ``weights_only=True`` unpickles tensors, numbers, strings and containers only: a file that
    holds any other object (which a plain ``torch.load`` would run code to build) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut one has no index
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt: not the zip archive torch.save writes"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if "global" in line.lower()]
        first = lines[0] if lines else str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain data, refused by "
            f"torch.load(weights_only=True): {first}"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt: {first}") from None
