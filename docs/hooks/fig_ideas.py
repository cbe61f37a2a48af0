"""One idea figure for each block page that had none: Linear, Embedding, MSELoss,
CrossEntropyLoss, the classification losses and the adaptive optimizers. Each is computed from
byhand at build time (nothing typed in) and is cheap: the computations take milliseconds; most of
the few seconds of CPU the six cost go to drawing and PNG encoding.

Sizes: at most 7.4 inches wide at the 110 dpi of ``draw_figures.py`` (≈ 814 px, the width of the
page's column), so nothing is scaled down, and text of at least 10 pt (≈ 15 px on screen).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import byhand
from byhand.nn import functional as F

F64 = torch.float64


def linear_idea():
    """Left: a Linear(2, 2) maps a grid to a sheared, shifted grid (lines stay straight and
    parallel). Right: the activation scale through ten Linear+ReLU layers under three inits."""
    torch.manual_seed(0)
    layer = byhand.nn.Linear(2, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.6], [-0.3, 0.9]], dtype=F64))
        layer.bias.copy_(torch.tensor([0.8, 0.4], dtype=F64))
    fig, (ax_map, ax_depth) = plt.subplots(1, 2, figsize=(7.4, 3.4))
    ticks = torch.linspace(-1, 1, 5, dtype=F64)
    fine = torch.linspace(-1, 1, 50, dtype=F64)
    with torch.no_grad():
        for t in ticks:
            for line in (
                torch.stack([fine, t.expand(50)], 1),
                torch.stack([t.expand(50), fine], 1),
            ):
                ax_map.plot(line[:, 0], line[:, 1], color="C0", alpha=0.45, lw=1)
                image = layer(line)
                ax_map.plot(image[:, 0], image[:, 1], color="C1", lw=1.2)
        origin = layer(torch.zeros(1, 2, dtype=F64))[0]
    ax_map.plot([0], [0], "o", color="C0")
    ax_map.plot([origin[0]], [origin[1]], "o", color="C1")
    ax_map.annotate("b", (origin[0], origin[1]), xytext=(6, -12), textcoords="offset points")
    ax_map.plot([], [], color="C0", label="x")
    ax_map.plot([], [], color="C1", label="x Wᵀ + b")
    ax_map.legend(loc="lower right")
    ax_map.set_aspect("equal")
    ax_map.set_title("a linear layer on a grid")

    width, depth = 256, 10
    inits = [
        ("default (a = √5)", None),
        ("kaiming, a = 0", lambda w: byhand.nn.init.kaiming_uniform_(w, a=0)),
        ("N(0, 1)", torch.nn.init.normal_),
    ]
    for i, (name, init) in enumerate(inits):
        torch.manual_seed(0)
        h = torch.randn(512, width)
        scales = [h.std().item()]
        with torch.no_grad():
            for _ in range(depth):
                lin = byhand.nn.Linear(width, width)
                if init is not None:
                    init(lin.weight)
                h = F.relu(lin(h))
                scales.append(h.std().item())
        ax_depth.semilogy(range(depth + 1), scales, "o-", ms=3, color=f"C{i}", label=name)
    ax_depth.set_xlabel("layer (width 256, ReLU)")
    ax_depth.set_ylabel("std of activations")
    ax_depth.set_title("the init sets the scale")
    ax_depth.set_ylim(1e-3, 1e15)
    ax_depth.legend(loc="upper left")
    ax_depth.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def embedding_idea():
    """An embedding lookup is a one-hot matrix times the table: both computed and shown."""
    torch.manual_seed(0)
    table = byhand.nn.Embedding(8, 4).double()
    idx = torch.tensor([5, 1, 5])
    with torch.no_grad():
        looked_up = table(idx)
        one_hot = torch.nn.functional.one_hot(idx, 8).double()
        product = one_hot @ table.weight
    assert torch.equal(looked_up, product)
    fig, axes = plt.subplots(1, 3, figsize=(7.4, 2.9), gridspec_kw={"width_ratios": [8, 4, 4]})
    panels = [
        (one_hot, "one-hot (3 × 8)\nindices 5, 1, 5"),
        (table.weight.detach(), "weight (8 × 4)"),
        (looked_up, "weight[indices]\n= one-hot @ weight"),
    ]
    for ax, (values, title) in zip(axes, panels):
        ax.imshow(values.numpy(), cmap="coolwarm", vmin=-2.5, vmax=2.5)
        ax.set_title(title)
        ax.set_xticks([]), ax.set_yticks([])
    for row in (1, 5):
        axes[1].add_patch(plt.Rectangle((-0.5, row - 0.5), 4, 1, fill=False, ec="C2", lw=2))
    axes[0].set_yticks(range(3), ["5", "1", "5"])
    axes[1].set_yticks(range(8))
    fig.text(0.49, 0.5, "@", fontsize=16, ha="center", va="center")
    fig.text(0.745, 0.5, "=", fontsize=16, ha="center", va="center")
    fig.tight_layout(w_pad=3)
    return fig


def mse_idea():
    """Fitting a line through data with one outlier: the slope that minimises MSE vs L1, and
    each loss against the slope (MSE is a parabola, pulled by the outlier)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.linspace(0, 1, 20, dtype=F64)
    y = 2 * x + 0.1 * torch.randn(20, generator=gen, dtype=F64)
    y[-3] += 3.0  # one outlier
    slopes = torch.linspace(0, 5, 501, dtype=F64)
    mse = torch.stack([F.mse_loss(s * x, y) for s in slopes])
    l1 = torch.stack([F.l1_loss(s * x, y) for s in slopes])
    best_mse, best_l1 = slopes[mse.argmin()].item(), slopes[l1.argmin()].item()
    fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(7.4, 3.2))
    ax_fit.plot(x, y, "o", ms=4, color="C7", label="data (one outlier)")
    ax_fit.plot(x, best_mse * x, color="C0", label=f"MSE fit, slope {best_mse:.2f}")
    ax_fit.plot(x, best_l1 * x, color="C1", label=f"L1 fit, slope {best_l1:.2f}")
    ax_fit.set_xlabel("x")
    ax_fit.set_ylabel("y")
    ax_fit.legend(loc="upper left", fontsize=9)
    ax_loss.plot(slopes, mse, color="C0", label="MSE")
    ax_loss.plot(slopes, l1, color="C1", label="L1")
    ax_loss.axvline(best_mse, color="C0", ls=":")
    ax_loss.axvline(best_l1, color="C1", ls=":")
    ax_loss.set_xlabel("slope w of the fit y = w x")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def cross_entropy_idea():
    """Left: cross-entropy of 3 classes (target 0) over two logits, the third fixed at 0.
    Right: its gradient for one logit vector, softmax minus one-hot, from autograd."""
    z = torch.linspace(-4, 4, 161, dtype=F64)
    z1, z2 = torch.meshgrid(z, z, indexing="xy")
    logits = torch.stack([z1, z2, torch.zeros_like(z1)], dim=-1).reshape(-1, 3)
    target = torch.zeros(len(logits), dtype=torch.long)
    loss = F.cross_entropy(logits, target, reduction="none").reshape(z1.shape)
    fig, (ax_surface, ax_grad) = plt.subplots(1, 2, figsize=(7.4, 3.3))
    levels = ax_surface.contourf(z1, z2, loss, levels=15, cmap="viridis", alpha=0.85)
    fig.colorbar(levels, ax=ax_surface, label="loss")
    ax_surface.set_xlabel("logit of the target class")
    ax_surface.set_ylabel("logit of class 1")
    ax_surface.set_title("CE, 3 classes, logit 2 = 0")
    example = torch.tensor([[1.0, 2.0, -0.5]], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(F.cross_entropy(example, torch.tensor([0])), example)
    probs = F.softmax(example.detach(), dim=1)[0]
    positions = np.arange(3)
    ax_grad.bar(positions - 0.2, probs, 0.4, color="C0", label="softmax(z)")
    ax_grad.bar(positions + 0.2, grad[0], 0.4, color="C1", label="∂L/∂z")
    ax_grad.axhline(0, color="C7", lw=0.8)
    ax_grad.set_xticks(positions, ["target", "class 1", "class 2"])
    ax_grad.set_title("z = (1, 2, −0.5): ∂L/∂z = p − y")
    ax_grad.legend(loc="lower right")
    fig.tight_layout()
    return fig


def classification_idea():
    """BCE of a positive example against its logit, float32: from the probability σ(z)
    (BCELoss, clamped at 100 where σ underflows) vs from the logit (BCEWithLogitsLoss)."""
    z = torch.linspace(-120, 20, 1401, dtype=torch.float32)
    ones = torch.ones_like(z)
    curves = []
    for name, loss_fn in (
        (
            "BCELoss(σ(z))",
            lambda v: F.binary_cross_entropy(torch.sigmoid(v), ones, reduction="none"),
        ),
        (
            "BCEWithLogitsLoss(z)",
            lambda v: F.binary_cross_entropy_with_logits(v, ones, reduction="none"),
        ),
    ):
        v = z.clone().requires_grad_(True)
        loss = loss_fn(v)
        (grad,) = torch.autograd.grad(loss.sum(), v)
        curves.append((name, loss.detach(), grad))
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(7.4, 3.2))
    for i, (name, loss, grad) in enumerate(curves):
        style = "-" if i == 0 else "--"
        ax_loss.plot(z, loss, style, color=f"C{i}", label=name)
        ax_grad.plot(z, grad, style, color=f"C{i}", label=name)
    ax_loss.set_xlabel("logit z (target 1), float32")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", fontsize=9)
    ax_grad.set_xlabel("logit z (target 1), float32")
    ax_grad.set_ylabel("∂ loss / ∂ z")
    ax_grad.set_ylim(-1.3, 0.3)
    for ax in (ax_loss, ax_grad):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def adaptive_idea():
    """Step size per coordinate against gradient size after 50 steps on constant noisy
    gradients spanning six decades: SGD's step is proportional, Adam's and RMSprop's are not."""
    scales = torch.logspace(-3, 3, 25, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    noise = 1 + 0.1 * torch.randn(50, len(scales), generator=gen, dtype=F64)
    optimizers = [
        ("SGD, lr 1e-2", lambda p: byhand.optim.SGD(p, lr=1e-2)),
        ("SGD + momentum 0.9, lr 1e-2", lambda p: byhand.optim.SGD(p, lr=1e-2, momentum=0.9)),
        ("RMSprop, lr 1e-2", lambda p: byhand.optim.RMSprop(p, lr=1e-2)),
        ("Adam, lr 1e-2", lambda p: byhand.optim.Adam(p, lr=1e-2)),
    ]
    fig, ax = plt.subplots(figsize=(7.4, 3.4))
    for i, (name, make) in enumerate(optimizers):
        w = torch.zeros(len(scales), dtype=F64, requires_grad=True)
        optimizer = make([w])
        for step in range(50):
            before = w.detach().clone()
            w.grad = scales * noise[step]
            optimizer.step()
        ax.loglog(scales, (w.detach() - before).abs(), "o-", ms=3, color=f"C{i}", label=name)
    ax.set_xlabel("gradient size of the coordinate")
    ax.set_ylabel("|step| at step 50")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {
    "linear-idea.png": linear_idea,
    "embedding-idea.png": embedding_idea,
    "mse-idea.png": mse_idea,
    "cross-entropy-idea.png": cross_entropy_idea,
    "classification-idea.png": classification_idea,
    "adaptive-idea.png": adaptive_idea,
}
