"""Figures of the activations chapter (docs/activations/)."""

import matplotlib.pyplot as plt
import torch

from byhand.nn import functional as F


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


FIGURES = {"activations.png": activations}
