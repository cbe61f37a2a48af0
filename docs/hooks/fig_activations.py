"""Figures of the activations chapter (docs/activations/)."""

import matplotlib.pyplot as plt
import torch

from byhand.nn import functional as F


def _curves(blocks, columns=4):
    """One panel per activation: ``f`` (C0), the hand-written ``f'`` (C1, line) and autograd's
    derivative of the hand-written forward (dots)."""
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)
    rows = -(-len(blocks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.3 * rows), sharex=True)
    axes = axes.reshape(-1)
    for ax, (name, forward, derivative) in zip(axes, blocks):
        leaf = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(forward(leaf).sum(), leaf)
        ax.plot(x, forward(x).detach(), color="C0", label="f(x)")
        ax.plot(x, derivative(x), color="C1", label="f'(x), written")
        ax.plot(x[::16], grad[::16], "o", ms=2.5, color="C2", label="autograd")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.grid(alpha=0.3)
        ax.set_title(name, fontsize=10)
    for ax in axes[len(blocks) :]:
        ax.axis("off")
    axes[0].legend(loc="upper left", frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def activations():
    """ReLU, Sigmoid, Tanh."""
    return _curves(
        [
            ("ReLU", F.relu, F.relu_derivative),
            ("Sigmoid", F.sigmoid, F.sigmoid_derivative),
            ("Tanh", F.tanh, F.tanh_derivative),
        ],
        columns=3,
    )


def rectifiers():
    return _curves(
        [
            ("ReLU6", F.relu6, lambda x: F.hardtanh_derivative(x, None, 0.0, 6.0)),
            (
                "LeakyReLU(0.1)",
                lambda x: F.leaky_relu(x, 0.1),
                lambda x: F.leaky_relu_derivative(x, None, 0.1),
            ),
            (
                "PReLU (weight 0.25)",
                lambda x: F.prelu(x, torch.tensor([0.25], dtype=x.dtype)),
                lambda x: F.leaky_relu_derivative(x, None, 0.25),
            ),
            ("Hardtanh", F.hardtanh, F.hardtanh_derivative),
            ("ELU", F.elu, F.elu_derivative),
            ("SELU", F.selu, F.selu_derivative),
            ("CELU(2)", lambda x: F.celu(x, 2.0), lambda x: F.celu_derivative(x, None, 2.0)),
        ]  # fmt: skip
    )


def smooth():
    return _curves(
        [
            ("Softplus", F.softplus, F.softplus_derivative),
            ("GELU", F.gelu, F.gelu_derivative),
            (
                "GELU (tanh)",
                lambda x: F.gelu(x, "tanh"),
                lambda x: F.gelu_derivative(x, None, "tanh"),
            ),
            ("SiLU", F.silu, F.silu_derivative),
            ("Mish", F.mish, F.mish_derivative),
            ("Hardswish", F.hardswish, F.hardswish_derivative),
            ("Hardsigmoid", F.hardsigmoid, F.hardsigmoid_derivative),
            ("Softsign", F.softsign, F.softsign_derivative),
            ("LogSigmoid", F.logsigmoid, F.logsigmoid_derivative),
        ]  # fmt: skip
    )


def gelu_difference():
    """GELU exact minus its tanh approximation, measured on a fine grid."""
    x = torch.linspace(-6, 6, 2401, dtype=torch.float64)
    difference = F.gelu(x) - F.gelu(x, approximate="tanh")
    worst = int(difference.abs().argmax())
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot(x, difference, color="C0")
    ax.plot(x[worst], difference[worst], "o", color="C1")
    ax.set_title(
        f"max |erf - tanh| = {difference.abs().max():.2e} at x = {x[worst]:.2f}", fontsize=10
    )
    ax.set_xlabel("x")
    ax.set_ylabel("GELU(x) − GELU_tanh(x)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def softmax_temperature():
    """Softmax of the same logits divided by several temperatures."""
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0], dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    width = 0.2
    for i, temperature in enumerate((0.5, 1.0, 2.0, 5.0)):
        p = F.softmax(logits / temperature, dim=0)
        ax.bar(torch.arange(4) + (i - 1.5) * width, p, width, label=f"T = {temperature}")
    ax.set_xticks(range(4), [f"z = {v:g}" for v in logits.tolist()])
    ax.set_ylabel("softmax(z / T)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


FIGURES = {
    "activations.png": activations,
    "activations-rectifiers.png": rectifiers,
    "activations-smooth.png": smooth,
    "gelu-difference.png": gelu_difference,
    "softmax-temperature.png": softmax_temperature,
}
