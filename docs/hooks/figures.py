"""Serve the figures drawn by ``draw_figures.py`` as generated files: ``figures/<name>.png``.

The drawing runs in a child process started in ``on_pre_build`` (it overlaps the rest of the
build) and is collected in ``on_files``. Nothing is written into docs/ and no image is committed.
Under ``mkdocs serve`` the PNGs are cached until ``src/``, a figure module or a results file
under ``benchmarks/results/`` changes.
"""

from _subprocess import HOOKS, ROOT, Step
from mkdocs.structure.files import File

_state = {}


def on_pre_build(config):
    _state["step"] = Step(
        "figures",
        "drawing figures (docs/hooks/draw_figures.py)",
        "docs/hooks/draw_figures.py",
        Step.OUT,
        # the figures drawn from committed results read benchmarks/results/ (_speed_results.py)
        depends=[
            HOOKS / "draw_figures.py",
            HOOKS / "_speed_results.py",
            *sorted(HOOKS.glob("fig_*.py")),
            ROOT / "benchmarks" / "results",
        ],
    )


def on_files(files, config):
    step = _state["step"]
    for name in step.output().split():
        content = (step.out_dir / name).read_bytes()
        files.append(File.generated(config, f"figures/{name}", content=content))
    step.discard()
    return files
