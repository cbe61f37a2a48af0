"""The Performance page's figure (docs/performance.md), drawn from the committed results file
``benchmarks/results/speed-cpu-<date>.json`` (see ``_speed_results.py``): nothing is timed here.
"""

import matplotlib.pyplot as plt
from _speed_results import latest, trained_rows


def speed_ratios():
    """ours / PyTorch per block (forward+backward, or an optimizer step), one panel per chapter,
    one bar per thread count, the block's target as a red tick, parity as a dashed line."""
    data = latest("speed", "cpu")
    if data is None:
        fig, ax = plt.subplots(figsize=(8, 1.2))
        ax.text(0.5, 0.5, "no CPU results file in benchmarks/results/", ha="center")
        ax.axis("off")
        return fig
    rows = trained_rows(data)
    threads = sorted({r["threads"] for r in rows})
    chapters = list(dict.fromkeys(r["chapter"] for r in rows))
    labels = {ch: list(dict.fromkeys((r["name"], r["shape"]) for r in rows if r["chapter"] == ch))
              for ch in chapters}  # fmt: skip
    heights = [len(labels[ch]) + 1 for ch in chapters]
    fig, axes = plt.subplots(
        len(chapters),
        1,
        figsize=(9, 0.26 * sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
        sharex=True,
        squeeze=False,
    )
    width = 0.8 / len(threads)
    ratios = [r["ratio"] for r in rows]
    low, high = min(min(ratios), 0.5) * 0.8, max(max(ratios), 4.5) * 1.25
    for ax, chapter in zip(axes[:, 0], chapters):
        keys = labels[chapter]
        by_key = {(r["name"], r["shape"], r["threads"]): r for r in rows}
        for t_index, count in enumerate(threads):
            ys, xs = [], []
            for i, (name, shape) in enumerate(keys):
                row = by_key.get((name, shape, count))
                if row is not None:
                    ys.append(i + (t_index - (len(threads) - 1) / 2) * width)
                    xs.append(row["ratio"])
            ax.barh(ys, xs, height=width, color=f"C{t_index}",
                    label=f"{count} thread{'s' if count > 1 else ''}")  # fmt: skip
        for i, (name, shape) in enumerate(keys):
            target = next(
                (r["target"] for r in rows if (r["name"], r["shape"]) == (name, shape)), None
            )
            if target is not None:
                ax.plot([target, target], [i - 0.45, i + 0.45], color="C3", lw=2.2)
        ax.axvline(1.0, ls="--", lw=1, color="#808080")
        ax.set_yticks(range(len(keys)))
        names = [n.removeprefix("nn.").removeprefix("functional.") for n, _ in keys]
        ax.set_yticklabels([f"{n} {s}"[:46] for n, (_, s) in zip(names, keys)], fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if low <= t <= high]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_title(chapter, fontsize=9, loc="left")
        ax.grid(axis="x", which="both")
    axes[0, 0].plot([], [], color="C3", lw=2.2, label="target")
    axes[0, 0].legend(loc="lower right", fontsize=7, ncols=len(threads) + 1)
    axes[-1, 0].set_xlabel(
        f"ours / PyTorch (log scale; 1 = as fast), CPU {data['dtype']}, results of "
        f"{data['date'][:10]}"
    )
    fig.tight_layout()
    return fig


FIGURES = {"performance-ratios.png": speed_ratios}
