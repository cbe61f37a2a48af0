"""Per-epoch metrics: one JSON object a line in ``metrics.jsonl`` and a ``metrics.png`` plot."""

import json
import os
from pathlib import Path

__all__ = ["METRIC_KEYS", "write_jsonl", "plot_metrics", "summary"]

METRIC_KEYS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "seconds",
    "samples_per_s",
)


def write_jsonl(history, path):
    """Write every epoch's record, one JSON object a line (rewritten whole, then renamed)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(json.dumps(record) + "\n" for record in history))
    os.replace(temporary, path)


def summary(record, epochs):
    """The one line printed after each epoch."""
    line = (
        f"epoch {record['epoch']}/{epochs}  train loss {record['train_loss']:.4f}"
        f"  acc {record['train_acc']:.4f}"
    )
    if record["val_loss"] is not None:
        line += f"  val loss {record['val_loss']:.4f}  acc {record['val_acc']:.4f}"
    return line + f"  {record['seconds']:.1f} s  {record['samples_per_s']} samples/s"


def plot_metrics(history, path):
    """Loss and accuracy per epoch, train and validation, side by side.

    Drawn on an opaque white background, so the black text reads on dark viewers too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [record["epoch"] for record in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2), facecolor="white")
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", color="C0", label="train")
        if any(r[f"val_{key}"] is not None for r in history):
            values = [r[f"val_{key}"] for r in history]
            ax.plot(epochs, values, "o-", color="C1", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(temporary, dpi=100, facecolor="white", transparent=False)
    plt.close(fig)
    os.replace(temporary, path)
