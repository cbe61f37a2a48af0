"""Draw every figure of the site from the package: ``python docs/hooks/draw_figures.py OUT_DIR``.

Each chapter's figures live in ``docs/hooks/fig_<chapter>.py``, a module whose ``FIGURES`` maps a
file name to a function returning a matplotlib figure computed from ``byhand`` at build time;
nothing there is typed in. This script imports every ``fig_*.py`` beside it, draws each figure and
writes ``OUT_DIR/<name>``. The ``figures`` hook runs it in a child process and serves the PNGs as
generated files under ``figures/`` (nothing is written into docs/). A page shows one with
``![what it shows](../figures/<name>)``.
"""

import importlib.util
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def figure_modules():
    """Every ``fig_*.py`` beside this file, imported, in name order."""
    modules = []
    for path in sorted(HERE.glob("fig_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def all_figures():
    """``{file name: draw function}`` over every chapter; a name used twice is an error."""
    figures = {}
    for module in figure_modules():
        for name, draw in module.FIGURES.items():
            if name in figures:
                raise ValueError(
                    f"figure {name!r} is defined twice (second time in {module.__name__}.py)"
                )
            figures[name] = draw
    return figures


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in all_figures().items():
        fig = draw()
        fig.savefig(out / name, dpi=110, metadata={"Software": None})
        plt.close(fig)
        print(name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/hooks/draw_figures.py OUT_DIR")
    main(sys.argv[1])
