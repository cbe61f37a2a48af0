"""Figures of the text-classifier case study (docs/case-studies/text-classifier.md).

The learning curve, confusion matrix and attention maps are drawn from the committed result
file (``python -m byhand.models.text_classifier --write-results ...``); the smoke-run curve is
trained here, at build time, by the same code; the positional encoding is computed here.
"""

import matplotlib.pyplot as plt
import torch
from fig_sequence import one_thread

import byhand
from byhand.models import text_classifier as tc


def positions():
    """The sinusoidal table for 64 positions × 32 dimensions, and the rotation that shifts it."""
    table = byhand.nn.functional.sinusoidal_positional_encoding(64, 32, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    image = ax.imshow(table.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    ax.set_xlabel("position p")
    ax.set_ylabel("dimension (sin, cos pairs)")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    return fig


def learning_curve():
    """Training and validation loss and validation accuracy per epoch (result file)."""
    results, path = tc.load_results()
    history = results["history"]
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [row["train_loss"] for row in history], "o-", color="C0", label="train")
    left.plot(
        epochs, [row["val_loss"] for row in history], "o-", color="C1", label="validation"
    )
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy")
    left.legend()
    right.plot(epochs, [row["val_accuracy"] for row in history], "o-", color="C2")
    right.set_xlabel("epoch")
    right.set_ylabel("validation accuracy")
    right.set_ylim(0, 1)
    fig.suptitle(f"{path.name} ({results['date']})", fontsize=9)
    fig.tight_layout()
    return fig


def confusion():
    """Validation confusion matrix, rows = true package, columns = predicted (result file)."""
    results, _ = tc.load_results()
    matrix = torch.tensor(results["confusion"])
    names = results["packages"]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in zip(
        [(i, j) for i in range(len(names)) for j in range(len(names))],
        matrix.flatten().tolist(),
    ):
        # light text on the dark cells (near-white: pure white is redrawn grey)
        color = "#f2f2f2" if count > matrix.max() / 2 else ("C1" if count else "C0")
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def attention():
    """Every head of every layer on one validation docstring (result file)."""
    example = tc.load_results()[0]["attention_example"]
    maps, tokens = example["maps"], example["tokens"]
    layers, heads = len(maps), len(maps[0])
    fig, axes = plt.subplots(layers, heads, figsize=(2.3 * heads, 2.4 * layers), squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(maps[layer][head], cmap="viridis", vmin=0)
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=8)
            ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
            ax.set_yticks(range(len(tokens)), tokens if head == 0 else [], fontsize=6)
    fig.tight_layout()
    return fig


def smoke():
    """A short training at build time: the same model class and loop on a small slice."""
    losses, history, seconds = tc.smoke_run()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.plot(range(1, len(losses) + 1), losses, "o-", color="C0", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(
        f"build-time smoke run: loss {losses[0]:.3f} → {losses[-1]:.3f} in {len(losses)} "
        f"steps ({seconds:.1f} s, torch {torch.__version__})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


FIGURES = {
    "text-positions.png": one_thread(positions),
    "text-learning-curve.png": learning_curve,
    "text-confusion.png": confusion,
    "text-attention.png": attention,
    "text-smoke.png": one_thread(smoke),
}
