"""The captioning page's build step: ``python docs/hooks/captioning_build.py OUT_DIR``.

1. Reads the committed result file (``byhand.models.captioning.RESULTS``, written by
   ``python -m byhand.models.captioning``): the trained models' BLEU, exact match, loss curves
   and sample captions.
2. Trains the same recipe, through the same ``fit``, for one epoch on 64 images (a smoke run:
   the code the result file came from still runs today), and scores it the same way.
3. Draws the page's figures into ``OUT_DIR`` (the sample images are drawn again from the
   generator's seed; their captions come from the result file).

Prints one JSON object: ``{"figures": [...], "text": {marker key: Markdown}}``; the
``captioning`` hook puts each text where the page says ``<!-- byhand:captioning KEY -->``.
"""

import contextlib
import json
import sys
import textwrap
import time
from pathlib import Path

import draw_figures
import matplotlib.pyplot as plt
import torch

from byhand.data.shapes import make_shapes, shapes_datasets
from byhand.models import captioning

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "exact")


def loss_curves(runs):
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for k, (name, run) in enumerate(runs.items()):
        epochs = [h["epoch"] for h in run["history"]]
        ax.plot(epochs, [h["train_loss"] for h in run["history"]], "o-", color=f"C{k}",
                label=f"{name}: training")  # fmt: skip
        ax.plot(epochs, [h["val_loss"] for h in run["history"]], "s--", color=f"C{k}",
                label=f"{name}: held out")  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per word")
    ax.set_yscale("log")
    ax.grid(True)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def samples(run):
    """The held-out images of the result file's samples, each beside its reference, greedy
    and beam captions."""
    _, val, _ = shapes_datasets(0, run["n_val"])
    shown = run["samples"]
    rows = (len(shown) + 1) // 2
    fig, axes = plt.subplots(
        rows, 4, figsize=(11, 1.75 * rows), gridspec_kw={"width_ratios": [1, 3.4, 1, 3.4]}
    )
    for k, sample in enumerate(shown):
        image_ax, text_ax = axes[k // 2, 2 * (k % 2)], axes[k // 2, 2 * (k % 2) + 1]
        image_ax.imshow(val.images[sample["index"]].permute(1, 2, 0).numpy())
        image_ax.axis("off")
        text_ax.axis("off")
        lines = [f"truth:   {sample['truth']}", f"greedy: {sample['greedy']}",
                 f"beam 3: {sample['beam']}"]  # fmt: skip
        text_ax.text(0.03, 0.5, "\n".join(lines), va="center", fontsize=8.5)
        if sample["greedy"] != sample["beam"]:
            text_ax.text(0.03, 0.92, "greedy ≠ beam", va="center", fontsize=8.5, color="C1")
    for k in range(len(shown), 2 * rows):
        axes[k // 2, 2 * (k % 2)].axis("off")
        axes[k // 2, 2 * (k % 2) + 1].axis("off")
    fig.tight_layout()
    return fig


def _wrap(line, width=34):
    return textwrap.fill(line, width, subsequent_indent="   ")


def dataset_examples():
    images, captions = make_shapes(6, seed=2)
    fig, axes = plt.subplots(1, 6, figsize=(11, 2.6))
    for ax, image, caption in zip(axes, images, captions):
        ax.imshow(image.permute(1, 2, 0).numpy())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(_wrap(caption, 22), fontsize=8)
    fig.tight_layout()
    return fig


def parity():
    """Max |byhand − torch| over the scores, the loss and the parameter gradients of one
    batch: the same weights in both models, float64, training mode (batch statistics)."""
    vocab = captioning.shapes_vocabulary()
    images, captions = make_shapes(8, seed=5)
    tokens = vocab.encode_batch(captions)
    models, outputs = {}, {}
    for impl, nn in (("byhand", captioning.byhand.nn), ("torch", torch.nn)):
        torch.manual_seed(0)
        models[impl] = captioning.ShapesCaptioner(len(vocab), impl=impl).double()
        if impl == "torch":
            models[impl].load_state_dict(models["byhand"].state_dict())
        loss_fn = nn.CrossEntropyLoss(ignore_index=vocab.null)
        loss, scores = captioning.caption_loss(models[impl], images.double(), tokens, loss_fn)
        loss.backward()
        outputs[impl] = (scores.detach(), loss.detach())
    scores = (outputs["byhand"][0] - outputs["torch"][0]).abs().max().item()
    grads = max(
        (p.grad - q.grad).abs().max().item()
        for p, q in zip(models["byhand"].parameters(), models["torch"].parameters())
    )
    return scores, grads, len(list(models["byhand"].state_dict()))


def _percent(x):
    return f"{100 * x:.1f}"


def scores_table(runs):
    head = "| model | decoding | " + " | ".join(METRICS[:-1]) + " | exact match |"
    rows = [head, "|" + " --- |" * (2 + len(METRICS))]
    for name, run in runs.items():
        for decoding, key in (("greedy", "greedy"), ("beam, k = 3", "beam")):
            cells = [_percent(run[key][m]) for m in METRICS[:-1]] + [
                _percent(run[key]["exact"])
            ]
            rows.append(f"| {name} | {decoding} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(out_dir):
    out = Path(out_dir)
    results = json.loads((ROOT / captioning.RESULTS).read_text(encoding="utf-8"))
    runs = results["runs"]
    main_run = runs[next(iter(captioning.VARIANTS))]

    torch.set_num_threads(1)
    started = time.process_time()
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON below
        smoke = captioning.train_and_score(
            n_train=64, epochs=1, samples=2, device="cpu", threads=1, progress=False
        )
    smoke_s = time.process_time() - started

    score_error, grad_error, n_keys = parity()

    draw_figures.use_style()
    figures = {
        "captioning-examples.png": dataset_examples,
        "captioning-loss.png": lambda: loss_curves(runs),
        "captioning-samples.png": lambda: samples(main_run),
    }
    for name, draw in figures.items():
        draw_figures.save(draw(), out / name)

    machine, versions = results["machine"], results["versions"]
    history = main_run["history"]
    zero = runs[list(captioning.VARIANTS)[1]]
    text = {
        "scores": scores_table(runs),
        "provenance": (
            f"Written {results['written']} by `{results['command']}` in "
            f"{results['seconds'] / 60:.1f} min on {machine['cpus']} CPU cores "
            f"({machine['processor']}, {machine['threads']} thread, load average "
            f"{machine['load_average_at_end'][0]} at the end), torch {versions['torch']}, "
            f"Python {versions['python']}: [the result file]"
            f"(results/{Path(captioning.RESULTS).name})."
        ),
        "setup": (
            f"{main_run['n_train']} training images, {main_run['n_val']} held-out images, "
            f"{main_run['epochs']} epochs"
        ),
        "greedy-bleu4": _percent(main_run["greedy"]["BLEU-4"]),
        "greedy-exact": _percent(main_run["greedy"]["exact"]),
        "beam-bleu4": _percent(main_run["beam"]["BLEU-4"]),
        "beam-exact": _percent(main_run["beam"]["exact"]),
        "beam-differs": str(main_run["beam_differs"]),
        "final-train-loss": f"{history[-1]['train_loss']:.3f}",
        "final-val-loss": f"{history[-1]['val_loss']:.3f}",
        "first-train-loss": f"{history[0]['train_loss']:.3f}",
        "zero-bleu4": _percent(zero["greedy"]["BLEU-4"]),
        "zero-exact": _percent(zero["greedy"]["exact"]),
        "zero-val-loss": f"{zero['history'][-1]['val_loss']:.3f}",
        "parity": (
            f"max |byhand − torch| = {score_error:.1e} over the word scores and "
            f"{grad_error:.1e} over the parameter gradients of one batch of 8 captions "
            f"(float64, training mode; the {n_keys} state_dict keys are the same)"
        ),
        "smoke": (
            f"the recipe for {smoke['epochs']} epoch on {smoke['n_train']} images, "
            f"{smoke_s:.1f} s of CPU time with one thread: training loss "
            f"{smoke['history'][-1]['train_loss']:.3f} (a model that knows nothing scores "
            f"ln {len(captioning.shapes_vocabulary())} = "
            f"{torch.log(torch.tensor(float(len(captioning.shapes_vocabulary())))):.3f}), "
            f"greedy BLEU-1 {_percent(smoke['greedy']['BLEU-1'])} on {smoke['n_val']} "
            f"held-out images."
        ),
    }
    print(json.dumps({"figures": list(figures), "text": text}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/hooks/captioning_build.py OUT_DIR")
    main(sys.argv[1])
