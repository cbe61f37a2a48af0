"""Figures of the classic track (docs/classic/): gradient checks, convolution speed, the three
levels of PyTorch trained on digits, and the experiments. Every number is computed here, at
build time, seeded; each experiment figure prints the finding its numbers support (or says
that they do not)."""

import functools
import importlib.util
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from draw_figures import magnitude_image
from sklearn.datasets import load_digits, load_sample_image
from threadpoolctl import threadpool_limits

from byhand import classic as C
from byhand.classic.three_levels import classic_params, sequential_convnet

ROOT = Path(__file__).resolve().parents[2]
SEED = 0


def built(draw):
    """Run ``draw`` with torch and NumPy's BLAS on one thread: these problems are tiny, and on
    a busy machine a thread pool waits for its slowest thread. (Under ``mkdocs serve`` the
    figures step is cached as a whole by the build hooks, keyed by src/ and these files.)"""

    @functools.wraps(draw)
    def wrapped():
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with threadpool_limits(limits=1):
                return draw()
        finally:
            torch.set_num_threads(saved)

    return wrapped


def digits(n_train=1200, flat=True):
    """load_digits scaled to [0, 1], shuffled with a fixed seed: train and validation splits."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(SEED).permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    if not flat:
        X = X.reshape(-1, 1, 8, 8)
    return {
        "X_train": X[:n_train],
        "y_train": y[:n_train],
        "X_val": X[1200:],
        "y_val": y[1200:],
    }


def _note(fig, text):
    fig.text(0.5, 0.005, text, ha="center", va="bottom", fontsize=8, wrap=True)


# ---------------------------------------------------------------- layers: gradient checks


def _layer_checks():
    """(label, worst relative error of the backward against a numerical gradient) per layer."""
    rng = np.random.default_rng(SEED)

    def worst(forward, backward, arrays):
        out, cache = forward(*arrays)
        dout = rng.standard_normal(out.shape)
        grads = backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        errors = []
        for i, (array, grad) in enumerate(zip(arrays, grads)):

            def f(v, i=i):
                args = list(arrays)
                args[i] = v
                return forward(*args)[0]

            errors.append(C.rel_error(C.eval_numerical_gradient_array(f, array, dout), grad))
        return max(errors)

    r = rng.standard_normal
    x4 = r((1, 2, 5, 5))
    checks = {
        "affine": (C.affine_forward, C.affine_backward, [r((3, 4)), r((4, 5)), r(5)]),
        "relu": (C.relu_forward, C.relu_backward, [r((4, 5)) + 0.05]),
        "batchnorm": (
            lambda *a: C.batchnorm_forward(*a, {"mode": "train"}),
            C.batchnorm_backward,
            [r((6, 4)), r(4), r(4)],
        ),
        "batchnorm_alt": (
            lambda *a: C.batchnorm_forward(*a, {"mode": "train"}),
            C.batchnorm_backward_alt,
            [r((6, 4)), r(4), r(4)],
        ),
        "layernorm": (C.layernorm_forward, C.layernorm_backward, [r((4, 6)), r(6), r(6)]),
        "groupnorm": (
            lambda *a: C.spatial_groupnorm_forward(*a, 3),
            C.spatial_groupnorm_backward,
            [r((2, 6, 3, 3)), r(6), r(6)],
        ),
        "conv naive": (
            lambda *a: C.conv_forward_naive(*a, stride=2, pad=1),
            C.conv_backward_naive,
            [x4, r((2, 2, 3, 3)), r(2)],
        ),
        "conv fast": (
            lambda *a: C.conv_forward_fast(*a, stride=2, pad=1),
            C.conv_backward_fast,
            [x4, r((2, 2, 3, 3)), r(2)],
        ),
        "max pool fast": (
            lambda v: C.max_pool_forward_fast(v, 2, 2, 2),
            C.max_pool_backward_fast,
            [rng.permutation(64).reshape(1, 1, 8, 8) / 5.0],
        ),
        "rnn": (
            C.rnn_forward,
            C.rnn_backward,
            [r((2, 3, 4)), r((2, 5)), 0.5 * r((4, 5)), 0.5 * r((5, 5)), r(5)],
        ),
        "lstm": (
            C.lstm_forward,
            C.lstm_backward,
            [r((2, 3, 4)), r((2, 5)), 0.5 * r((4, 20)), 0.5 * r((5, 20)), r(20)],
        ),
        "temporal affine": (
            C.temporal_affine_forward,
            C.temporal_affine_backward,
            [r((2, 3, 4)), r((4, 5)), r(5)],
        ),
    }
    return [(label, worst(*check)) for label, check in checks.items()]


def gradient_checks():
    """Worst relative error per layer, float64, h = 1e-5, against the 1e-7 bar."""
    results = _layer_checks()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels, errors = zip(*results)
    ax.bar(labels, errors, color="C0")
    ax.axhline(1e-7, color="C3", ls="--", label="bar: 1e-7")
    ax.set_yscale("log")
    ax.set_ylabel("worst relative error")
    ax.tick_params(axis="x", rotation=35)
    ax.legend(frameon=False)
    passed = sum(e < 1e-7 for e in errors)
    ax.set_title(
        f"backward vs numerical gradient, float64: {passed} of {len(errors)} layers "
        f"below 1e-7 (worst {max(errors):.1e}), measured at build time",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- convolution speed


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "classic_conv", ROOT / "benchmarks" / "classic_conv.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conv_speed():
    """Naive loops vs strided im2col (batch 10), and im2col vs F.conv2d (the seed's batch of
    100), float64, one thread each, measured now."""
    result = _benchmark().measure(
        batch=100, repeat=7, naive_repeat=1, threads=1, naive_batch=10
    )
    times = result["times_s"]
    fig, (ax_naive, ax_torch) = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = (
        (
            ax_naive,
            (("naive", "naive loops", "C3"), ("small_fast", "strided im2col", "C0")),
            f"batch 10: fast is {result['forward_speedup']:.0f}× (forward) and "
            f"{result['backward_speedup']:.0f}× (backward) faster than naive",
        ),
        (
            ax_torch,
            (("fast", "strided im2col", "C0"), ("torch", "F.conv2d", "C2")),
            f"batch 100: fast / F.conv2d = {result['forward_vs_torch']:.2f} (forward), "
            f"{result['backward_vs_torch']:.2f} (backward)",
        ),
    )
    for ax, bars_spec, title in panels:
        for k, (key, label, colour) in enumerate(bars_spec):
            values = [times[f"{key}_{g}"] * 1e3 for g in ("forward", "backward")]
            bars = ax.bar(
                np.arange(2) + (k - 0.5) * 0.38, values, 0.38, color=colour, label=label
            )
            ax.bar_label(bars, fmt="%.2f ms", fontsize=7)
        if ax is ax_naive:  # three orders of magnitude apart
            ax.set_yscale("log")
            ax.set_ylim(top=ax.get_ylim()[1] * 30)
        else:
            ax.set_ylim(top=ax.get_ylim()[1] * 1.3)
        ax.set_xticks(range(2), ("forward", "backward"))
        ax.set_ylabel("time (ms, median)")
        ax.legend(frameon=False, fontsize=8, loc="upper left", ncol=2)
        ax.set_title(title, fontsize=8)
    fig.suptitle(
        "x (N, 3, 31, 31), w (25, 3, 3, 3), stride 2, pad 1, float64, one thread", fontsize=9
    )
    _note(
        fig,
        f"Measured while building this site, on the building machine ({platform.machine()}, "
        f"torch {result['torch']}); ratios to F.conv2d are medians of paired runs; "
        "a busy machine skews them.",
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


# ---------------------------------------------------------------- three levels: training


def three_levels_training():
    """nn.Sequential and the NumPy ThreeLayerConvNet, both Adam, from the same weights."""
    data = digits(flat=False)
    torch.manual_seed(SEED)
    model = sequential_convnet().double()
    numpy_model = C.ThreeLayerConvNet(
        input_dim=(1, 8, 8), num_filters=16, filter_size=3, hidden_dim=64, num_classes=10
    )
    numpy_model.params = classic_params(model)
    X = torch.tensor(data["X_train"])
    y = torch.tensor(data["y_train"])
    Xv, yv = torch.tensor(data["X_val"]), torch.tensor(data["y_val"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    epochs, batch = 8, 50
    rng = np.random.default_rng(SEED)
    torch_acc, torch_loss = [], []
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(y)), len(y) // batch):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            torch_loss.append(loss.item())
        with torch.no_grad():
            torch_acc.append((model(Xv).argmax(1) == yv).double().mean().item())
    solver = C.Solver(
        numpy_model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        batch_size=batch,
        num_epochs=epochs,
        num_train_samples=None,
        seed=SEED,
    )
    solver.train()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(torch_loss, color="C0", lw=1, label="PyTorch nn.Sequential")
    ax_loss.plot(
        solver.loss_history, color="C1", lw=1, alpha=0.8, label="NumPy ThreeLayerConvNet"
    )
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend(frameon=False, fontsize=8)
    ax_acc.plot(range(1, epochs + 1), torch_acc, "o-", color="C0", label="PyTorch")
    ax_acc.plot(range(1, epochs + 1), solver.val_acc_history, "s-", color="C1", label="NumPy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.legend(frameon=False, fontsize=8)
    fig.suptitle(
        f"digits, 1200 train / {len(yv)} validation, Adam lr 1e-3, batch {batch}: "
        f"final validation accuracy {torch_acc[-1]:.3f} (PyTorch), "
        f"{solver.val_acc_history[-1]:.3f} (NumPy) — measured at build time",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- experiments


def _train(data, epochs=6, batch_size=100, lr=1e-3, seed=SEED, **model_kwargs):
    model_kwargs.setdefault("input_dim", 64)
    model = C.FullyConnectedNet(seed=seed, **model_kwargs)
    solver = C.Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": lr},
        batch_size=batch_size,
        num_epochs=epochs,
        num_train_samples=None,
        seed=seed,
    )
    solver.train()
    return solver


def bn_vs_init_scale():
    """Final train/val accuracy and loss vs weight scale, with and without batch norm."""
    data = digits()
    scales = np.logspace(-4, 0, 9)
    runs = {}
    for norm in (None, "batchnorm"):
        runs[norm] = [
            _train(data, hidden_dims=[64] * 5, normalization=norm, weight_scale=s, epochs=5)
            for s in scales
        ]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for norm, colour in ((None, "C0"), ("batchnorm", "C1")):
        name = "batch norm" if norm else "no norm"
        solvers = runs[norm]
        axes[0].semilogx(
            scales,
            [s.train_acc_history[-1] for s in solvers],
            "o-",
            color=colour,
            label=f"{name}, train",
        )
        axes[0].semilogx(
            scales,
            [s.val_acc_history[-1] for s in solvers],
            "s--",
            color=colour,
            label=f"{name}, val",
        )
        axes[1].loglog(
            scales,
            [np.mean(s.loss_history[-10:]) for s in solvers],
            "o-",
            color=colour,
            label=name,
        )
    axes[0].set_ylabel("final accuracy")
    axes[1].set_ylabel("training loss (last 10 steps)")
    for ax in axes[:2]:
        ax.set_xlabel("weight scale")
        ax.legend(frameon=False, fontsize=7)
    val_bn = np.array([s.val_acc_history[-1] for s in runs["batchnorm"]])
    val_plain = np.array([s.val_acc_history[-1] for s in runs[None]])
    axes[2].semilogx(scales, val_bn - val_plain, "o-", color="C2")
    axes[2].axhline(0, color="0.5", lw=0.8)
    axes[2].set_xlabel("weight scale")
    axes[2].set_ylabel("val accuracy: BN − no norm")
    wins = int((val_bn > val_plain + 0.02).sum())
    trains_bn, trains_plain = int((val_bn > 0.5).sum()), int((val_plain > 0.5).sum())
    finding = (
        f"Validation accuracy above 0.5 at {trains_bn} of {len(scales)} scales with batch norm, "
        f"{trains_plain} of {len(scales)} without; BN ahead by more than 2 points at {wins}"
    )
    finding += (
        ": here batch norm trains from many more initial scales."
        if trains_bn >= trains_plain + 2
        else ": these numbers do not show batch norm widening the range of usable scales."
    )
    fig.suptitle("5 hidden layers of 64, digits, Adam lr 1e-3, 5 epochs", fontsize=9)
    _note(fig, finding)
    fig.tight_layout(rect=(0, 0.07, 1, 0.93))
    return fig


def _norm_vs_batch_size(normalization):
    data = digits()
    sizes = (4, 16, 64, 256)
    epochs = 4
    fig, ax = plt.subplots(figsize=(8, 3.6))
    finals = {}
    for k, batch_size in enumerate(sizes):
        for norm, style in ((None, "--"), (normalization, "-")):
            solver = _train(
                data,
                hidden_dims=[64] * 4,
                normalization=norm,
                weight_scale=0.1,
                batch_size=batch_size,
                epochs=epochs,
                lr=1e-3,
            )
            label = f"batch {batch_size}, {'no norm' if norm is None else norm}"
            ax.plot(
                range(1, epochs + 1), solver.val_acc_history, style, color=f"C{k}", label=label
            )
            finals[(batch_size, norm)] = solver.val_acc_history[-1]
    ax.set_xlabel("epoch")
    ax.set_xticks(range(1, epochs + 1))
    ax.set_ylabel("validation accuracy")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    gains = {b: finals[(b, normalization)] - finals[(b, None)] for b in sizes}
    text = ", ".join(f"batch {b}: {g:+.3f}" for b, g in gains.items())
    ordered = [gains[b] for b in sizes]
    if normalization == "batchnorm":
        verdict = (
            "the gain from batch norm is smallest at the smallest batch"
            if ordered[0] == min(ordered)
            else "the numbers do not show batch norm helping less at small batches"
        )
    else:
        spread = max(ordered) - min(ordered)
        verdict = f"the gain from layer norm varies by {spread:.3f} across batch sizes" + (
            " — small: layer norm does not depend on the batch"
            if spread < 0.03
            else " — the numbers do not show it independent of the batch size"
        )
    ax.set_title(
        f"{normalization} vs none, 4 hidden layers of 64, Adam lr 1e-3, "
        f"{epochs} epochs, digits",
        fontsize=9,
    )
    _note(fig, f"Final validation accuracy, {normalization} − no norm: {text}; {verdict}.")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def bn_vs_batch_size():
    """Validation accuracy per epoch for several batch sizes, with and without batch norm."""
    return _norm_vs_batch_size("batchnorm")


def ln_vs_batch_size():
    """The same with layer norm."""
    return _norm_vs_batch_size("layernorm")


def dropout_curves():
    """Train vs validation accuracy per epoch on 100 examples, for several keep_prob."""
    n_train, hidden = 100, [256, 256]
    data = digits(n_train=n_train)
    keep = (1.0, 0.75, 0.5, 0.25)
    epochs = 30
    fig, ax = plt.subplots(figsize=(8, 3.6))
    gaps = {}
    for k, p in enumerate(keep):
        solver = _train(
            data,
            hidden_dims=hidden,
            keep_prob=p,
            weight_scale=0.05,
            batch_size=50,
            epochs=epochs,
            lr=1e-3,
        )
        ax.plot(
            range(1, epochs + 1),
            solver.train_acc_history,
            "-",
            color=f"C{k}",
            label=f"keep_prob {p}, train",
        )
        ax.plot(
            range(1, epochs + 1),
            solver.val_acc_history,
            "--",
            color=f"C{k}",
            label=f"keep_prob {p}, val",
        )
        gaps[p] = (
            solver.train_acc_history[-1] - solver.val_acc_history[-1],
            solver.val_acc_history[-1],
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.set_title(
        f"dropout, {len(hidden)} hidden layers of {hidden[0]}, {n_train} training examples, "
        f"{epochs} epochs",
        fontsize=9,
    )
    text = ", ".join(f"{p}: gap {g:.3f}, val {v:.3f}" for p, (g, v) in gaps.items())
    best = max(keep, key=lambda p: gaps[p][1])
    ordered = [gaps[p][0] for p in keep]  # keep_prob from 1.0 down
    if all(a > b for a, b in zip(ordered, ordered[1:])):
        verdict = "the train−val gap shrinks steadily as fewer units are kept"
    elif ordered[-1] < ordered[0]:
        verdict = "the gap is smaller with the most dropout than without, but not steadily"
    else:
        verdict = "the numbers do not show dropout shrinking the train−val gap"
    verdict += f"; keep_prob {best} validates best"
    _note(fig, f"Final (train − val) and val accuracy per keep_prob — {text}; {verdict}.")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def overfit_fifty():
    """Loss and accuracy on 50 training examples: a working net memorises them."""
    data = digits(n_train=50)
    solver = _train(
        data, hidden_dims=[100, 100], weight_scale=0.05, batch_size=25, epochs=25, lr=1e-2
    )
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4))
    ax_loss.plot(solver.loss_history, color="C0")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_yscale("log")
    ax_acc.plot(solver.train_acc_history, "o-", color="C0", label="train (50 examples)")
    ax_acc.plot(solver.val_acc_history, "s-", color="C1", label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend(frameon=False, fontsize=8)
    train, val = solver.train_acc_history[-1], solver.val_acc_history[-1]
    verdict = (
        "the net memorises its 50 examples"
        if train == 1.0
        else "the net does NOT reach 100% on its 50 examples: something is wrong"
    )
    fig.suptitle("2 hidden layers of 100, Adam lr 1e-2, batch 25", fontsize=9)
    _note(
        fig,
        f"Final training accuracy {train:.3f}, validation {val:.3f}, last loss "
        f"{solver.loss_history[-1]:.2e}: {verdict}.",
    )
    fig.tight_layout(rect=(0, 0.07, 1, 0.93))
    return fig


def conv_filters():
    """Grayscale and edge filters applied with conv_forward_fast to the two sample photos."""
    images = [
        load_sample_image(name)[::3, ::3].astype(np.float64)
        for name in ("china.jpg", "flower.jpg")
    ]
    size = min(min(im.shape[0] for im in images), min(im.shape[1] for im in images))
    x = np.stack([im[:size, :size].transpose(2, 0, 1) for im in images])  # (2, 3, H, W)
    w = np.zeros((3, 3, 3, 3))
    w[0, :, 1, 1] = (0.3, 0.6, 0.1)  # grayscale: a weighted sum of R, G, B at the centre
    sobel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
    w[1] = sobel[None] / 3  # horizontal edges, on the channel mean
    w[2] = sobel.T[None] / 3  # vertical edges
    out, _ = C.conv_forward_fast(x, w, np.zeros(3), stride=1, pad=1)
    fig, axes = plt.subplots(2, 4, figsize=(10, 5))
    titles = ("original", "grayscale", "horizontal edges", "vertical edges")
    for row in range(2):
        axes[row, 0].imshow(x[row].transpose(1, 2, 0).astype(np.uint8))
        for col in range(3):
            channel = out[row, col]
            if col:  # edge strength as opacity, on the page's own background
                axes[row, col + 1].imshow(magnitude_image(channel, signed=False))
            else:
                axes[row, col + 1].imshow(channel, cmap="gray")
        for col in range(4):
            axes[row, col].set_axis_off()
            axes[row, col].set_title(titles[col], fontsize=9)
    fig.suptitle(
        "3×3 filters applied with conv_forward_fast (stride 1, pad 1) to "
        "sklearn's sample photos",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


FIGURES = {
    name: built(draw)
    for name, draw in {
        "classic-gradient-checks.png": gradient_checks,
        "classic-conv-speed.png": conv_speed,
        "classic-three-levels.png": three_levels_training,
        "classic-bn-init-scale.png": bn_vs_init_scale,
        "classic-bn-batch-size.png": bn_vs_batch_size,
        "classic-ln-batch-size.png": ln_vs_batch_size,
        "classic-dropout.png": dropout_curves,
        "classic-overfit.png": overfit_fifty,
        "classic-filters.png": conv_filters,
    }.items()
}


if __name__ == "__main__":  # time each figure: python docs/hooks/fig_classic.py OUT_DIR
    import sys

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        start = time.perf_counter()
        fig = draw()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
