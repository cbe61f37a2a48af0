"""Draw every figure of the site from the package: ``python docs/hooks/draw_figures.py OUT_DIR``.

Each function returns a matplotlib figure computed from ``byhand`` at build time; nothing here is
typed in. The ``figures`` hook runs this script in a child process and serves the PNGs it writes
as generated files under ``figures/`` (nothing is written into docs/).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import byhand  # noqa: E402
from byhand.nn import functional as F  # noqa: E402


def activations():
    """Each activation (top) and its derivative (bottom): the hand-written formula as a line,
    autograd's derivative of the hand-written forward as dots."""
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)
    blocks = [
        ("ReLU", F.relu, F.relu_derivative),
        ("Sigmoid", F.sigmoid, F.sigmoid_derivative),
        ("Tanh", F.tanh, F.tanh_derivative),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2), sharex=True)
    for col, (name, forward, derivative) in enumerate(blocks):
        leaf = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(forward(leaf).sum(), leaf)
        axes[0, col].plot(x, forward(x), color="C0")
        axes[0, col].set_title(name)
        axes[1, col].plot(x, derivative(x), color="C1", label="formula")
        axes[1, col].plot(x[::20], grad[::20], "o", ms=3, color="k", label="autograd")
        for ax in axes[:, col]:
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            ax.grid(alpha=0.3)
        axes[1, col].set_xlabel("x")
    axes[0, 0].set_ylabel("f(x)")
    axes[1, 0].set_ylabel("f'(x)")
    axes[1, 0].legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def sgd_trajectories():
    """byhand SGD on the ill-conditioned quadratic f(w) = ½(w₁² + 25 w₂²) from (-4, 1.2),
    plain, with heavy-ball momentum and with Nesterov momentum, same learning rate."""
    scales = torch.tensor([1.0, 25.0], dtype=torch.float64)

    def loss(w):
        return 0.5 * (scales * w**2).sum()

    settings = [
        ("plain (momentum 0)", {}),
        ("momentum 0.8", {"momentum": 0.8}),
        ("Nesterov 0.8", {"momentum": 0.8, "nesterov": True}),
    ]
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    g1, g2 = torch.meshgrid(torch.linspace(-4.5, 1.5, 200), torch.linspace(-1.6, 1.6, 200), indexing="xy")
    ax.contour(g1, g2, 0.5 * (g1**2 + 25 * g2**2), levels=12, colors="0.8", linewidths=0.8)
    for name, kwargs in settings:
        w = torch.tensor([-4.0, 1.2], dtype=torch.float64, requires_grad=True)
        optimizer = byhand.optim.SGD([w], lr=0.035, **kwargs)
        path, losses = [w.detach().clone()], []
        for _ in range(40):
            optimizer.zero_grad()
            value = loss(w)
            value.backward()
            losses.append(value.item())
            optimizer.step()
            path.append(w.detach().clone())
        path = torch.stack(path)
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, label=name)
        ax_loss.semilogy(losses, label=name)
    ax.plot([0], [0], "k*", ms=10)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title("path on f(w) = ½(w₁² + 25 w₂²), lr 0.035")
    ax.legend(frameon=False, fontsize=8)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f(w)")
    ax_loss.set_title("loss per step")
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig


FIGURES = {
    "activations.png": activations,
    "sgd-trajectories.png": sgd_trajectories,
}


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        fig = draw()
        fig.savefig(out / name, dpi=110, metadata={"Software": None})
        plt.close(fig)
        print(name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/hooks/draw_figures.py OUT_DIR")
    main(sys.argv[1])
