"""Serve the figures drawn by ``draw_figures.py`` as generated files: ``figures/<name>.png``.

The drawing runs in a child process started in ``on_pre_build`` (it overlaps the rest of the
build) and is collected in ``on_files``. Nothing is written into docs/ and no image is committed.
"""

import tempfile
from pathlib import Path

from _subprocess import Step
from mkdocs.structure.files import File

_state = {}


def on_pre_build(config):
    _state["dir"] = tempfile.TemporaryDirectory(prefix="byhand-figures-")
    _state["step"] = Step(
        "drawing figures (docs/hooks/draw_figures.py)",
        "docs/hooks/draw_figures.py",
        _state["dir"].name,
    )


def on_files(files, config):
    names = _state["step"].output().split()
    out = Path(_state["dir"].name)
    for name in names:
        files.append(
            File.generated(config, f"figures/{name}", content=(out / name).read_bytes())
        )
    _state.pop("dir").cleanup()
    return files
