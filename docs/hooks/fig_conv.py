"""Figures of the convolution and pooling pages (docs/modules/convolution.md, conv-variants.md,
pooling.md), computed from ``byhand`` at build time."""

import functools

import matplotlib.pyplot as plt
import torch
from draw_figures import magnitude_image

import byhand
from byhand.nn import functional as F


@functools.cache
def _photo(size=160):
    """The sample photograph bundled with scikit-learn, grayscale in [0, 1], ``(1, 1, H, W)``."""
    from sklearn.datasets import load_sample_image

    image = torch.from_numpy(load_sample_image("china.jpg").copy()).double().mean(-1) / 255
    image = image[None, None]
    step = max(1, image.shape[-1] // size)
    return F.avg_pool2d(image, step)  # shrink by averaging step × step blocks


def im2col_unrolling():
    """A 4×4 input, its 2×2 windows (stride 1) and the 4×9 matrix im2col makes of them."""
    x = torch.arange(1, 17, dtype=torch.float64).view(1, 1, 4, 4)
    columns = F.im2col(x, 2)[0]  # (1·2·2, 3·3)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 2.2]}
    )
    left.imshow(x[0, 0], cmap="Blues", alpha=0.35)
    for (i, j), value in zip(
        torch.cartesian_prod(torch.arange(4), torch.arange(4)), x.flatten()
    ):
        left.text(j, i, f"{value:.0f}", ha="center", va="center")
    left.add_patch(plt.Rectangle((-0.45, -0.45), 1.9, 1.9, fill=False, ec="C1", lw=2))
    left.add_patch(plt.Rectangle((0.55, -0.4), 1.9, 1.9, fill=False, ec="C2", lw=2, ls="--"))
    left.set_title("input (4×4), two 2×2 windows")
    right.imshow(columns, cmap="Blues", alpha=0.35, aspect="auto")
    for i in range(columns.shape[0]):
        for j in range(columns.shape[1]):
            right.text(j, i, f"{columns[i, j]:.0f}", ha="center", va="center")
    right.add_patch(plt.Rectangle((-0.45, -0.45), 0.9, 3.9, fill=False, ec="C1", lw=2))
    right.add_patch(plt.Rectangle((0.55, -0.45), 0.9, 3.9, fill=False, ec="C2", lw=2, ls="--"))
    right.set_title("im2col: one column per window (4 × 9); conv = weight (O × 4) @ this")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def receptive_field():
    """Which inputs reach one output after three 3×3 convs: dilation 1, 1, 1 against 1, 2, 4."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    size = 31
    for ax, dilations in zip(axes, ((1, 1, 1), (1, 2, 4))):
        x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
        h = x
        for d in dilations:
            h = F.conv2d(h, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=d, dilation=d)
        h[0, 0, size // 2, size // 2].backward()
        reach = x.grad[0, 0] > 0
        ax.imshow(reach.double(), cmap="Blues", vmin=0, vmax=1.4)
        span = int(reach.any(0).sum())
        ax.set_title(f"dilation {dilations}: {span}×{span} inputs")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def deformable_grid():
    """Where a 3×3 deformable conv samples the photo: the regular grid and the moved one."""
    image = _photo(120)
    generator = torch.Generator().manual_seed(0)
    centres = [(30, 30), (30, 80), (60, 55), (70, 100)]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.imshow(image[0, 0], cmap="gray")
    for k, (row, col) in enumerate(centres):
        taps = torch.cartesian_prod(torch.arange(-1, 2), torch.arange(-1, 2)).double() * 4
        moved = taps + 3 * torch.randn(9, 2, generator=generator, dtype=torch.float64)
        ys, xs = moved[:, 0] + row, moved[:, 1] + col
        values = F.bilinear_sample(image[0:1], ys.view(1, -1), xs.view(1, -1))
        ax.plot(
            taps[:, 1] + col,
            taps[:, 0] + row,
            "s",
            mfc="none",
            color="C0",
            label="regular grid" if k == 0 else None,
        )
        ax.scatter(
            xs,
            ys,
            c=values[0, 0],
            cmap="viridis",
            edgecolors="C1",
            s=40,
            label="offset samples (colour: bilinear value)" if k == 0 else None,
        )
        for (ty, tx), (my, mx) in zip(taps.tolist(), moved.tolist()):
            ax.plot([col + tx, col + mx], [row + ty, row + my], color="C1", lw=0.7)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("deformable conv: each tap moves by its own (Δy, Δx)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def depthwise_parameters():
    """Parameters of a full 3×3 conv and a depthwise-separable one, C → C, counted."""
    widths = [16, 32, 64, 128, 256]
    full, separable = [], []
    for c in widths:
        conv = byhand.nn.Conv2d(c, c, 3, bias=False, device="meta")  # shapes only, no data
        layer = byhand.nn.DepthwiseSeparableConv2d(c, c, 3, bias=False, device="meta")
        full.append(sum(p.numel() for p in conv.parameters()))
        separable.append(sum(p.numel() for p in layer.parameters()))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(widths, full, "o-", color="C0", label="Conv2d: C·C·9")
    ax.plot(widths, separable, "s-", color="C1", label="depthwise + pointwise: C·9 + C·C")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("channels C (in = out)")
    ax.set_ylabel("parameters")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def hand_set_filters():
    """Feature maps of four hand-set 3×3 filters on the photo, by ``byhand.nn.Conv2d``."""
    image = _photo(160)
    kernels = {
        "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
        "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
        "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "box blur": [[1 / 9] * 3] * 3,
    }
    layer = byhand.nn.Conv2d(1, 4, 3, padding=1, padding_mode="replicate", bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(list(kernels.values()), dtype=torch.float64)[:, None])
        maps = layer(image)[0]
    fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
    axes[0].imshow(image[0, 0], cmap="gray")
    axes[0].set_title("input")
    for ax, name, fmap in zip(axes[1:], kernels, maps):
        if name == "box blur":
            ax.imshow(fmap, cmap="gray")
        else:  # the response alone, on the page's background: red > 0, blue < 0
            ax.imshow(magnitude_image(fmap))
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def adaptive_windows():
    """Adaptive windows ``[⌊iL/n⌋, ⌈(i+1)L/n⌉)`` for L = 10 → n = 4 and L = 7 → n = 3."""
    fig, axes = plt.subplots(2, 1, figsize=(7, 3.4))
    for ax, (length, n) in zip(axes, ((10, 4), (7, 3))):
        start, end = F.adaptive_windows(length, n)
        for i, (s, e) in enumerate(zip(start.tolist(), end.tolist())):
            ax.barh(i, e - s, left=s, color=f"C{i}", alpha=0.7)
            ax.text(e + 0.1, i, f"[{s}, {e})", va="center", fontsize=8)
        ax.set_xlim(0, length + 1.5)
        ax.set_xticks(range(length + 1))
        ax.set_yticks(range(n))
        ax.invert_yaxis()
        ax.set_title(f"input length {length} → {n} windows", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


FIGURES = {
    "conv-im2col.png": im2col_unrolling,
    "conv-receptive-field.png": receptive_field,
    "conv-deformable-grid.png": deformable_grid,
    "conv-depthwise-params.png": depthwise_parameters,
    "conv-filters.png": hand_set_filters,
    "pool-adaptive-windows.png": adaptive_windows,
}
