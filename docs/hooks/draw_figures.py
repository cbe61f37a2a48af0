"""Draw every figure of the site from the package: ``python docs/hooks/draw_figures.py OUT_DIR``.

Each chapter's figures live in ``docs/hooks/fig_<chapter>.py``, a module whose ``FIGURES`` maps a
file name to a function returning a matplotlib figure computed from ``byhand`` at build time;
nothing there is typed in. This script imports every ``fig_*.py`` beside it, draws each figure and
writes ``OUT_DIR/<name>``. The ``figures`` hook runs it in a child process and serves the PNGs as
generated files under ``figures/`` (nothing is written into docs/). A page shows one with
``![what it shows](../figures/<name>)``.

The site shows every figure on a light and on a dark background, so all of them are drawn in one
style set here before any chapter draws: a transparent background, and text, axes, ticks and grid
in a mid grey readable on both. Data keep matplotlib's colour cycle ("C0", "C1", ...). Anything a
figure still draws in pure black or white (invisible on one of the two backgrounds) is redrawn
in that grey.
"""

import importlib.util
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.collections  # noqa: E402
import matplotlib.colors  # noqa: E402
import matplotlib.figure  # noqa: E402
import matplotlib.lines  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text  # noqa: E402

HERE = Path(__file__).resolve().parent
NEUTRAL = "#808080"  # contrast about 4:1 on white and on Material's dark (slate) background
STYLE = {
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "text.color": NEUTRAL,
    "axes.labelcolor": NEUTRAL,
    "axes.edgecolor": NEUTRAL,
    "axes.titlecolor": NEUTRAL,
    "xtick.color": NEUTRAL,
    "ytick.color": NEUTRAL,
    "grid.color": NEUTRAL,
    "grid.alpha": 0.35,
    "legend.frameon": False,
    "legend.facecolor": "none",
    "legend.edgecolor": NEUTRAL,
}


def _neutral_if_black_or_white(color):
    """``color`` with pure black or pure white replaced by the neutral grey (alpha kept)."""
    rgba = matplotlib.colors.to_rgba(color)
    if rgba[3] > 0 and rgba[:3] in ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)):
        return matplotlib.colors.to_rgba(NEUTRAL, rgba[3])
    return rgba


def neutralise(fig):
    """Redraw what a figure draws in pure black or white in the neutral grey."""
    for artist in fig.findobj():
        if isinstance(artist, matplotlib.lines.Line2D):
            for attr in ("color", "markerfacecolor", "markeredgecolor"):
                value = getattr(artist, f"get_{attr}")()
                if isinstance(value, str) and value in ("none", "auto"):
                    continue
                getattr(artist, f"set_{attr}")(_neutral_if_black_or_white(value))
        elif isinstance(artist, matplotlib.text.Text):
            artist.set_color(_neutral_if_black_or_white(artist.get_color()))
        elif isinstance(artist, (matplotlib.patches.Patch, matplotlib.collections.Collection)):
            if artist is fig.patch:
                continue
            for attr in ("facecolor", "edgecolor"):
                value = getattr(artist, f"get_{attr}")()
                colors = matplotlib.colors.to_rgba_array(value)
                if len(colors):
                    new = [_neutral_if_black_or_white(c) for c in colors]
                    getattr(artist, f"set_{attr}")(new if len(new) > 1 else new[0])


DPI = 110
# tests/browser/check_site.py reads this PNG text chunk: the pixel height of the figure's smallest
# text as drawn; scaled by how much narrower the page shows the PNG, it must stay readable.
TEXT_SIZE_KEY = "byhand:min-text-px"


def smallest_text_px(fig, dpi=DPI):
    """Font size in pixels of the smallest non-empty, visible text drawn in ``fig``."""
    sizes = [
        text.get_fontsize() * dpi / 72
        for text in fig.findobj(matplotlib.text.Text)
        if text.get_visible() and text.get_text().strip() and text.get_figure() is not None
    ]
    return min(sizes, default=float("inf"))


COLUMN_PX = 812  # the page's content column at a 1280-pixel window (docs/stylesheets/extra.css)
MIN_TEXT_PX = 9.5  # on screen; tests/browser/check_site.py fails a figure below 9 px


def readable_text(fig, dpi=DPI):
    """Raise every text of ``fig`` that the page would show smaller than ``MIN_TEXT_PX``.

    A figure wider than the column is shown scaled down to it, its text with it: a 12-inch figure
    at 110 dpi is 1320 px, shown at 812, so a 7-point legend lands at 6.6 px. The smallest size
    in points that stays readable therefore grows with the figure's width.
    """
    width_px = fig.get_figwidth() * dpi
    shown = min(1.0, COLUMN_PX / width_px)
    min_points = MIN_TEXT_PX / shown * 72 / dpi
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_fontsize() < min_points:
            text.set_fontsize(min_points)


def magnitude_image(values, signed=True):
    """An RGBA image of a filter response that is transparent where the response is zero.

    A response map drawn with a colour map is a bright rectangle on the dark palette; here the
    page's own background shows through and only the response is drawn: its size as opacity,
    its sign as colour (orange positive, a light blue negative; orange alone when ``signed`` is
    false), both readable on white and on the dark palette.
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    scale = np.percentile(np.abs(values), 99.5) or 1.0
    alpha = np.clip(np.abs(values) / scale, 0, 1)
    positive = matplotlib.colors.to_rgb("C1")
    negative = matplotlib.colors.to_rgb("#4a9be0")
    rgb = np.where((values >= 0)[..., None], positive, negative)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


_tight_layout = matplotlib.figure.Figure.tight_layout


def _readable_tight_layout(fig, *args, **kwargs):
    """Every chapter lays its figure out last with ``tight_layout``: raise small text first, so
    the layout makes room for the text at the size the page will show."""
    readable_text(fig)
    return _tight_layout(fig, *args, **kwargs)


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


def use_style():
    """The site's figure style, and small text raised before every ``tight_layout``."""
    plt.rcParams.update(STYLE)
    matplotlib.figure.Figure.tight_layout = _readable_tight_layout


def save(fig, path):
    """Write ``fig`` as the site shows it: black and white made grey, text readable at the
    column's width, the smallest text's size in the PNG for tests/browser/check_site.py."""
    neutralise(fig)
    readable_text(fig)
    fig.canvas.draw()  # lays the figure out: tick labels exist only once drawn
    size = smallest_text_px(fig)
    fig.savefig(path, dpi=DPI, metadata={"Software": None, TEXT_SIZE_KEY: f"{size:.2f}"})
    plt.close(fig)


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    use_style()
    for name, draw in all_figures().items():
        save(draw(), out / name)
        print(name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/hooks/draw_figures.py OUT_DIR")
    main(sys.argv[1])
