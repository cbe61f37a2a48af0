"""Figures of the recurrent, attention and Transformer pages (docs/modules/)."""

import matplotlib.pyplot as plt
import torch

import byhand
from byhand.nn import functional as F


def one_thread(draw):
    """Draw with one thread: tiny ops on a shared, loaded machine thrash a thread pool."""

    def wrapped():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return draw()
        finally:
            torch.set_num_threads(threads)

    wrapped.__doc__ = draw.__doc__
    return wrapped


def unrolled_rnn():
    """An RNN unrolled over four steps: the same cell (same weights) at every step."""
    fig, ax = plt.subplots(figsize=(8, 2.8))
    for t in range(4):
        x0 = 2.0 * t
        ax.add_patch(plt.Rectangle((x0 - 0.45, 0.6), 0.9, 0.8, fill=False, ec="C0", lw=2))
        ax.text(x0, 1.0, "cell", ha="center", va="center")
        ax.annotate("", (x0, 0.6), (x0, 0.0), arrowprops=dict(arrowstyle="->", color="C1"))
        ax.text(x0, -0.2, f"$x_{t + 1}$", ha="center", va="top")
        ax.annotate("", (x0, 2.0), (x0, 1.4), arrowprops=dict(arrowstyle="->", color="C2"))
        ax.text(x0, 2.1, f"$h_{t + 1}$", ha="center", va="bottom")
        ax.annotate("", (x0 - 0.45, 1.0), (x0 - 1.55, 1.0), arrowprops=dict(arrowstyle="->"))
        ax.text(x0 - 1.0, 1.1, f"$h_{t}$", ha="center", va="bottom")
    ax.text(3.0, -0.75, "$W_{ih}, W_{hh}, b$ shared by every step", ha="center", color="C0")
    ax.set_xlim(-1.8, 7)
    ax.set_ylim(-1.0, 2.6)
    ax.axis("off")
    fig.tight_layout()
    return fig


def lstm_gates():
    """An LSTM with hand-set weights that counts: the input gate opens on a marker, the forget
    gate holds the cell, and the cell state steps up each time."""
    lstm = byhand.nn.LSTMCell(1, 1).double()
    with torch.no_grad():  # gates i, f, g, o: i opens on x = 1, f stays ≈ 1, g = +1, o open
        lstm.weight_ih.copy_(torch.tensor([[8.0], [0.0], [0.0], [0.0]]))
        lstm.weight_hh.zero_()
        lstm.bias_ih.copy_(torch.tensor([-4.0, 4.0, 3.0, 2.0]))
        lstm.bias_hh.zero_()
    x = torch.tensor([0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0], dtype=torch.float64)
    h = c = torch.zeros(1, 1, dtype=torch.float64)
    rows = []
    for value in x:
        gates = torch.nn.functional.linear(value.view(1, 1), lstm.weight_ih, lstm.bias_ih)
        i, f, g, o = gates.chunk(4, dim=-1)
        h, c = lstm(value.view(1, 1), (h, c))
        rows.append(
            [
                float(torch.sigmoid(i).detach()),
                float(torch.sigmoid(f).detach()),
                float(c.detach()),
                float(h.detach()),
            ]
        )
    rows = torch.tensor(rows)
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True)
    steps = range(1, len(x) + 1)
    axes[0].bar(steps, x, color="0.7", label="input x")
    axes[0].plot(steps, rows[:, 0], "o-", color="C0", label="input gate i")
    axes[0].plot(steps, rows[:, 1], "s-", color="C1", label="forget gate f")
    axes[0].set_ylim(-0.05, 1.45)
    axes[0].legend(loc="upper right", ncols=3, frameon=False)
    axes[1].plot(steps, rows[:, 2], "o-", color="C2", label="cell state c")
    axes[1].plot(steps, rows[:, 3], "s-", color="C3", label="output h")
    axes[1].legend(loc="upper left", frameon=False)
    axes[1].set_xlabel("time step")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def attention_masks():
    """Weights of one MultiheadAttention: no mask, causal, causal + padding, and per head."""
    torch.manual_seed(0)
    mha = byhand.nn.MultiheadAttention(16, 2, batch_first=True).eval()
    x = torch.randn(1, 8, 16)
    causal = torch.ones(8, 8, dtype=torch.bool).triu(1)
    padding = torch.zeros(1, 8, dtype=torch.bool)
    padding[0, 6:] = True
    with torch.no_grad():
        plain = mha(x, x, x)[1][0]
        masked = mha(x, x, x, attn_mask=causal)[1][0]
        both = mha(x, x, x, attn_mask=causal, key_padding_mask=padding)[1][0]
        heads = mha(x, x, x, attn_mask=causal, average_attn_weights=False)[1][0]
    panels = [
        ("no mask", plain),
        ("causal", masked),
        ("causal + last 2 padded", both),
        ("head 1 (causal)", heads[0]),
        ("head 2 (causal)", heads[1]),
    ]
    fig, axes = plt.subplots(1, 5, figsize=(12, 2.9))
    for ax, (title, weights) in zip(axes, panels):
        ax.imshow(weights, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("key j")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel("query i")
    fig.tight_layout()
    return fig


def relative_bias():
    """The bias each head adds as a function of distance: T5 buckets and clipped distances."""
    torch.manual_seed(0)
    distance = torch.arange(-40, 41)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    t5 = byhand.nn.RelativePositionAttention(8, 2, num_buckets=16, max_distance=32)
    clipped = byhand.nn.RelativePositionAttention(8, 2, max_distance=6, clipped=True)
    for ax, module, title in (
        (axes[0], t5, "T5: 16 log-spaced buckets"),
        (axes[1], clipped, "clipped at ±6"),
    ):
        with torch.no_grad():
            bias = module.position_bias(1, 81)[:, 0, :]  # query at 0, keys at -40..40 shifted
            buckets = F.relative_position_bucket(
                distance,
                module.bidirectional,
                module.num_buckets,
                module.max_distance,
                module.clipped,
            )
            bias = module.relative_attention_bias[buckets].T
        for h in range(2):
            ax.step(distance, bias[h], where="mid", color=f"C{h}", label=f"head {h + 1}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("relative distance j - i")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("bias added to the logit")
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig


def _saved_bytes(fn, *args):
    total = []

    def pack(t):
        total.append(t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(total)


def local_window():
    """Which keys each query sees with a ±2 window, and the memory kept for backward, measured."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    i = torch.arange(12)
    band = (i[:, None] - i[None, :]).abs() <= 2
    axes[0].imshow(band, cmap="viridis")
    axes[0].set_title("window ±2: keys each query sees", fontsize=10)
    axes[0].set_xlabel("key j")
    axes[0].set_ylabel("query i")
    lengths = [128, 256, 512, 1024]
    full, local = [], []
    for n in lengths:
        q, k, v = (torch.randn(1, 1, n, 16, requires_grad=True) for _ in range(3))
        full.append(_saved_bytes(F.scaled_dot_product_attention, q, k, v) / 2**20)
        local.append(_saved_bytes(F.local_attention, q, k, v, 16) / 2**20)
    axes[1].loglog(lengths, full, "o-", color="C0", label="full attention")
    axes[1].loglog(lengths, local, "s-", color="C1", label="local, window ±16")
    axes[1].set_xlabel("sequence length L")
    axes[1].set_ylabel("MiB saved for backward")
    axes[1].set_title("measured (1 head, E = 16, float32)", fontsize=10)
    axes[1].legend(frameon=False)
    axes[1].grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def gradient_norms(norm_first, layers=6, seeds=3):
    """Gradient norm of each layer's parameters at initialisation (mean over ``seeds``), for
    the loss ``mean(y ⊙ t)`` with a fixed random target direction ``t``."""
    norms = torch.zeros(layers)
    for seed in range(seeds):
        torch.manual_seed(seed)
        layer = byhand.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, norm_first=norm_first)
        encoder = byhand.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        x, target = torch.randn(8, 2, 32), torch.randn(8, 2, 32)
        (encoder(x) * target).mean().backward()
        for i, block in enumerate(encoder.layers):
            grads = [p.grad.flatten() for p in block.parameters()]
            norms[i] += float(torch.cat(grads).norm()) / seeds
    return norms


def pre_post_norm():
    """Per-layer gradient norms at init: post-norm vs pre-norm, 6 layers, measured."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    depth = range(1, 7)
    ax.plot(
        depth, gradient_norms(False), "o-", color="C0", label="post-norm (norm_first=False)"
    )
    ax.plot(depth, gradient_norms(True), "s-", color="C1", label="pre-norm (norm_first=True)")
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("‖∂loss/∂θ‖ of the layer")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


FIGURES = {
    "rnn-unrolled.png": unrolled_rnn,
    "lstm-gates.png": lstm_gates,
    "attention-masks.png": attention_masks,
    "relative-bias.png": relative_bias,
    "local-window.png": one_thread(local_window),
    "pre-post-norm.png": one_thread(pre_post_norm),
}
