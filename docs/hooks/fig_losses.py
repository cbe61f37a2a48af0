"""Figures of the losses chapter (docs/losses/), drawn from byhand at build time."""

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits

import byhand
from byhand.nn import functional as F

RESIDUALS = torch.linspace(-3, 3, 601, dtype=torch.float64)


def _loss_and_gradient(loss_fn):
    """``loss(r)`` and ``d loss / d prediction`` for predictions ``r`` against target 0."""
    prediction = RESIDUALS.clone().requires_grad_(True)
    loss = loss_fn(prediction, torch.zeros_like(prediction))
    (grad,) = torch.autograd.grad(loss.sum(), prediction)
    return loss.detach(), grad


def regression():
    """MSE, L1, SmoothL1 (β = 1) and Huber (δ = 1): loss and gradient against the residual."""
    losses = [
        ("MSE", lambda p, t: F.mse_loss(p, t, reduction="none")),
        ("L1", lambda p, t: F.l1_loss(p, t, reduction="none")),
        ("SmoothL1, β = 1", lambda p, t: F.smooth_l1_loss(p, t, reduction="none", beta=1.0)),
        ("Huber, δ = 2", lambda p, t: F.huber_loss(p, t, reduction="none", delta=2.0)),
        ("Pinball, τ = 0.9", lambda p, t: F.quantile_loss(p, t, 0.9, reduction="none")),
    ]
    fig, (top, bottom) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (name, fn) in enumerate(losses):
        loss, grad = _loss_and_gradient(fn)
        top.plot(RESIDUALS, loss, color=f"C{i}", label=name)
        bottom.plot(RESIDUALS, grad, color=f"C{i}", label=name)
    top.set_ylim(-0.1, 4)
    top.set_title("loss")
    bottom.set_title("gradient with respect to the prediction")
    for ax in (top, bottom):
        ax.set_xlabel("residual  prediction − target")
        ax.grid(alpha=0.3)
    top.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def focal():
    """Focal loss ``-(1 - p_t)^γ log p_t`` against ``p_t`` for several γ."""
    p_t = torch.linspace(0.01, 0.99, 197, dtype=torch.float64)
    logits = torch.log(p_t) - torch.log1p(-p_t)  # σ(logit) = p_t for a positive target
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, gamma in enumerate((0.0, 0.5, 1.0, 2.0, 5.0)):
        loss = F.focal_loss(logits, torch.ones_like(logits), gamma=gamma, reduction="none")
        ax.plot(
            p_t, loss, color=f"C{i}", label=f"γ = {gamma:g}" + (" (BCE)" if gamma == 0 else "")
        )
    ax.set_xlabel("p_t, probability of the true class")
    ax.set_ylabel("loss")
    ax.set_ylim(0, 4)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def separation(embedding, labels):
    """Mean distance between class centres over mean distance of a point to its own centre."""
    centres = torch.stack([embedding[labels == c].mean(0) for c in range(10)])
    within = (embedding - centres[labels]).norm(dim=1).mean()
    between = torch.pdist(centres).mean()
    return float(between / within)


def train_embedding(loss_name, steps=100, seed=0, lr=0.1):
    """A 64 → 32 → 2 MLP trained on sklearn's digits with one metric loss; the 2-D embedding
    of every digit and the labels."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster than two contending
    try:
        return _train(loss_name, steps, seed, lr)
    finally:
        torch.set_num_threads(threads)


def _train(loss_name, steps, seed, lr):
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16
    y = torch.tensor(digits.target)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        byhand.nn.Linear(64, 32), byhand.nn.ReLU(), byhand.nn.Linear(32, 2)
    )
    optimizer = byhand.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randperm(len(x), generator=generator)[:128]
        z, labels = model(x[batch]), y[batch]
        if loss_name == "triplet":
            loss = F.triplet_mining_loss(z, labels, margin=1.0)
        else:
            partner = torch.roll(torch.arange(128), 1)
            same = (labels == labels[partner]).long()
            loss = F.contrastive_loss(z, z[partner], same, margin=2.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return model(x), y


def metric_embedding():
    """Digits embedded in 2-D by batch-hard triplet loss and by contrastive loss."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, name in zip(axes, ("triplet", "contrastive")):
        z, y = train_embedding(name)
        for digit in range(10):
            points = z[y == digit]
            ax.scatter(points[:, 0], points[:, 1], s=3, color=f"C{digit}", label=str(digit))
        ax.set_title(f"{name}: separation {separation(z, y):.2f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(markerscale=4, frameon=False, fontsize=8, loc="center left",
                   bbox_to_anchor=(1, 0.5))  # fmt: skip
    fig.tight_layout()
    return fig


FIGURES = {
    "losses-regression.png": regression,
    "losses-focal.png": focal,
    "losses-metric-embedding.png": metric_embedding,
}
