"""Figures of the reproduction page (docs/case-studies/reproducing.md)."""

import matplotlib.pyplot as plt
import torch

from byhand.repro import per_device_batch_norm


def per_device_bn():
    """A batch of 128 activations (16 channels, 8×8) normalised per device, for 2 to 64
    devices, against batch norm over the whole batch: mean and largest absolute difference of
    the normalised outputs, against the per-device batch size."""
    torch.manual_seed(0)
    x = torch.randn(128, 16, 8, 8, dtype=torch.float64) + torch.randn(128, 1, 1, 1)
    whole = per_device_batch_norm(x, 1)
    sizes, means, maxima = [], [], []
    for devices in (2, 4, 8, 16, 32, 64):
        diff = (per_device_batch_norm(x, devices) - whole).abs()
        sizes.append(128 // devices)
        means.append(diff.mean().item())
        maxima.append(diff.max().item())
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.loglog(sizes, maxima, "o-", color="C3", label="largest |difference|")
    ax.loglog(sizes, means, "o-", color="C0", label="mean |difference|")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("examples per device (global batch 128)")
    ax.set_ylabel("vs one batch norm over 128")
    ax.grid(True, which="major")
    ax.legend()
    fig.tight_layout()
    return fig


FIGURES = {"per-device-bn.png": per_device_bn}
