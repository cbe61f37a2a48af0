"""Figures of the optimizers chapter (docs/optim/)."""

import matplotlib.pyplot as plt
import torch

import byhand


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
    g1, g2 = torch.meshgrid(
        torch.linspace(-4.5, 1.5, 200), torch.linspace(-1.6, 1.6, 200), indexing="xy"
    )
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


FIGURES = {"sgd-trajectories.png": sgd_trajectories}
