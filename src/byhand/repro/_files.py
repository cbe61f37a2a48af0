"""Write a text file atomically: a temporary file beside it, flushed, then renamed over it."""

import os
import tempfile
from pathlib import Path


def write_text_atomic(path, text):
    """A reader sees the whole old file or the whole new one, never half of either."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
