"""Figures of the normalisation, dropout and MLP pages (docs/modules/)."""

import matplotlib.pyplot as plt
import torch

import byhand

N, C, HW = 4, 6, 5  # the cube: batch × channels × (H·W)


def _normalised_together(layer):
    """Which elements share one statistic with element (0, 2, 0): perturb it and see which
    outputs of ``layer`` move. Returns a boolean ``(N, C, HW)`` array."""
    torch.manual_seed(0)
    x = torch.randn(N, C, HW, dtype=torch.float64)
    bumped = x.clone()
    bumped[0, 2, 0] += 1.0
    moved = (layer(bumped) - layer(x)).abs() > 1e-12
    moved[0, 2, 0] = True
    return moved.numpy()


def norm_axes():
    """The classic cube: which (N, C, H·W) elements each norm averages over, found by running
    byhand's layers — a change in one element moves exactly the outputs of its group."""
    layers = [
        ("BatchNorm", byhand.nn.BatchNorm1d(C).double()),
        ("LayerNorm", lambda x: byhand.nn.functional.layer_norm(x, (C, HW))),
        ("InstanceNorm", byhand.nn.InstanceNorm1d(C).double()),
        ("GroupNorm (3 groups)", byhand.nn.GroupNorm(3, C).double()),
    ]
    fig = plt.figure(figsize=(10, 3.3))
    for i, (name, layer) in enumerate(layers):
        ax = fig.add_subplot(1, 4, i + 1, projection="3d")
        with torch.no_grad():
            together = _normalised_together(layer)
        # voxel axes: x = channels, y = batch, z = H·W. Only the group is filled (voxels draws the
        # faces between filled and empty cells, so a group drawn inside a filled cube would show
        # only its rim); the whole tensor is the box drawn around it.
        ax.voxels(
            together.transpose(1, 0, 2),
            facecolors="C0",
            edgecolor="#d0d0d0",
            lw=0.4,
            shade=False,
        )
        for a in (0, C):
            for b in (0, N):
                ax.plot([a, a], [b, b], [0, HW], color="#808080", lw=0.8)
        for a in (0, C):
            for c in (0, HW):
                ax.plot([a, a], [0, N], [c, c], color="#808080", lw=0.8)
        for b in (0, N):
            for c in (0, HW):
                ax.plot([0, C], [b, b], [c, c], color="#808080", lw=0.8)
        ax.set_xlim(0, C), ax.set_ylim(0, N), ax.set_zlim(0, HW)
        ax.set_box_aspect((C, N, HW))
        ax.set_xlabel("C", labelpad=-10)
        ax.set_ylabel("N", labelpad=-10)
        ax.set_zlabel("HW", labelpad=-10)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_pane_color(
                (0, 0, 0, 0)
            )  # no light-grey panes: a bright block in dark mode
        ax.set_title(name, fontsize=11)
        ax.view_init(elev=22, azim=-58)
    fig.subplots_adjust(left=0.0, right=0.95, wspace=0.12)
    return fig


def running_statistics():
    """BatchNorm1d trained on batches of 4 from N(3, 2²): the running mean and the running
    variance over steps, PyTorch's update (unbiased) against one that stores the biased
    variance, and momentum 0.1 against the cumulative average (momentum=None)."""
    torch.manual_seed(0)
    steps = 300
    layers = {
        "momentum 0.1": byhand.nn.BatchNorm1d(1, momentum=0.1),
        "momentum None (average)": byhand.nn.BatchNorm1d(1, momentum=None),
    }
    history = {name: ([], []) for name in layers}
    biased, biased_history = torch.ones(1), []
    for _ in range(steps):
        x = 3 + 2 * torch.randn(4, 1)
        for name, layer in layers.items():
            layer(x)
            history[name][0].append(layer.running_mean.item())
            history[name][1].append(layer.running_var.item())
        biased.lerp_(x.var(0, correction=0), 0.1)
        biased_history.append(biased.item())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    for i, (name, (means, variances)) in enumerate(history.items()):
        left.plot(means, color=f"C{i}", label=name)
        right.plot(variances, color=f"C{i}", label=f"{name}, unbiased (PyTorch)")
    right.plot(biased_history, color="C3", alpha=0.8, label="momentum 0.1, biased (a bug)")
    left.axhline(3, color="C7", ls="--", lw=1, label="true mean 3")
    right.axhline(4, color="C7", ls="--", lw=1, label="true variance 4")
    right.axhline(3, color="C3", ls=":", lw=1, label="biased limit 4·3/4 = 3")
    left.set_title("running_mean")
    right.set_title("running_var")
    for ax in (left, right):
        ax.set_xlabel("training step (batch of 4)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    right.set_ylim(0, 9)
    fig.tight_layout()
    return fig


def dropout_masks():
    """One feature map (4 channels of 24×24) through Dropout, Dropout2d and DropBlock2d, all
    with p = 0.25: dark is dropped, the rest is scaled up."""
    torch.manual_seed(3)
    x = torch.ones(1, 4, 24, 24)
    rows = [
        ("Dropout", byhand.nn.Dropout(0.25)),
        ("Dropout2d", byhand.nn.Dropout2d(0.25)),
        ("DropBlock2d, block 5", byhand.nn.DropBlock2d(0.25, 5)),
    ]
    fig, axes = plt.subplots(3, 4, figsize=(8, 6.4))
    for r, (name, layer) in enumerate(rows):
        out = layer(x)[0]
        kept = (out != 0).float().mean().item()
        for c in range(4):
            ax = axes[r, c]
            ax.imshow((out[c] != 0).numpy(), vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{name}\nkept {kept:.0%}", fontsize=9)
            if r == 0:
                ax.set_title(f"channel {c}", fontsize=9)
    fig.tight_layout()
    return fig


def expert_loads():
    """Measured loads of a MixtureOfExperts (8 experts, fresh router) on 2048 tokens: how many
    routing slots each expert receives with top-1 and with top-2 routing, and the Switch
    load-balancing loss of each (1 when uniform, 8 when every token picks one expert)."""
    torch.manual_seed(0)
    tokens = torch.randn(2048, 16)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, top_k in zip(axes, (1, 2)):
        torch.manual_seed(1)
        moe = byhand.nn.MixtureOfExperts(16, 4, 8, top_k=top_k)
        with torch.no_grad():
            _, aux = moe(tokens, return_aux_loss=True)
            _, _, chosen = byhand.nn.functional.top_k_gating(moe.gate(tokens), top_k)
        loads = torch.bincount(chosen.reshape(-1), minlength=8)
        ax.bar(range(8), loads.numpy(), color=f"C{top_k - 1}")
        ax.axhline(2048 * top_k / 8, color="C7", ls="--", lw=1, label="uniform")
        ax.set_title(f"top-{top_k}: load-balancing loss {aux.item():.3f}")
        ax.set_xlabel("expert")
        ax.set_ylabel(f"routing slots (of {2048 * top_k})")
        ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


FIGURES = {
    "norm-axes.png": norm_axes,
    "running-statistics.png": running_statistics,
    "dropout-masks.png": dropout_masks,
    "expert-loads.png": expert_loads,
}
