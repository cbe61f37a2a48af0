"""Modules II: normalisation, dropout, embedding, MLPs and mixture of experts.

The registry compares every block with its twin or oracle; these tests hold what it cannot:
closed-form backwards against autograd, several training steps, statistics of the random
blocks, the pitfalls with the numbers they cost, and the clear errors.
"""

import math

import pytest
import torch

import byhand
from byhand.nn import functional as F

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DEVICES = ["cpu", pytest.param("cuda", marks=cuda)]


def _max_err(a, b):
    return (a - b).abs().max().item()


# --- batch norm: closed form, several steps ---------------------------------------------------
def plain_batch_norm(x, weight, bias, eps):
    """Batch norm written as its formula, for autograd to differentiate."""
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    shape = (1, -1, *([1] * (x.dim() - 2)))
    return (x - mean) / torch.sqrt(var + eps) * weight.view(shape) + bias.view(shape)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6), (4, 3, 5, 5)])
def test_batch_norm_closed_form_backward_matches_autograd_of_the_formula(shape):
    g = torch.Generator().manual_seed(0)
    x = (3 + 2 * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_()
    w = torch.randn(shape[1], generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(shape[1], generator=g, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(shape, generator=g, dtype=torch.float64)
    out, _, _ = F.BatchNormTrain.apply(x, w, b, 1e-5)
    grads = torch.autograd.grad(out, (x, w, b), upstream)
    reference = plain_batch_norm(x, w, b, 1e-5)
    grads_ref = torch.autograd.grad(reference, (x, w, b), upstream)
    assert _max_err(out, reference) < 1e-13
    for ours, ref in zip(grads, grads_ref):
        assert _max_err(ours, ref) < 1e-12
    assert torch.autograd.gradcheck(
        lambda x, w, b: F.BatchNormTrain.apply(x, w, b, 1e-5)[0], (x, w, b)
    )


def test_layer_norm_closed_form_backward_passes_gradcheck():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: F.StandardizeRows.apply(x, w, b, 1e-5), (x, w, b)
    )


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_in_blocks_of_rows_matches_pytorch(monkeypatch, affine):
    """Blocks of 2 rows (5 rows: the last block is short): the same values and gradients as
    PyTorch's layer_norm, and as one block."""
    import byhand.nn.functional.normalization as normalization

    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True) if affine else None
    b = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True) if affine else None
    upstream = torch.randn(5, 7, generator=g, dtype=torch.float64)
    leaves = [t for t in (x, w, b) if t is not None]
    monkeypatch.setattr(normalization, "BLOCK_VALUES", 14)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # blocks on one thread only
    assert len(normalization.row_blocks(x)) == 3
    out = F.layer_norm(x, (7,), w, b)
    ref = torch.nn.functional.layer_norm(x, (7,), w, b)
    assert _max_err(out, ref) < 1e-13
    grads = torch.autograd.grad(out, leaves, upstream)
    for ours, theirs in zip(grads, torch.autograd.grad(ref, leaves, upstream)):
        assert _max_err(ours, theirs) < 1e-12
    assert torch.autograd.gradcheck(lambda *t: F.layer_norm(t[0], (7,), *t[1:]), leaves)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_buffers_match_pytorch_over_ten_steps(momentum):
    ours = byhand.nn.BatchNorm2d(3, momentum=momentum).double()
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    g = torch.Generator().manual_seed(2)
    for _ in range(10):
        x = 1 + 2 * torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
        ours(x), theirs(x)
    for name in ("running_mean", "running_var"):
        assert _max_err(getattr(ours, name), getattr(theirs, name)) < 1e-13
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 10
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
    assert _max_err(ours(x), theirs(x)) < 1e-13


def test_state_dicts_load_both_ways():
    for ours, theirs in [
        (byhand.nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)),
        (
            byhand.nn.InstanceNorm2d(4, track_running_stats=True),
            torch.nn.InstanceNorm2d(4, track_running_stats=True),
        ),
        (byhand.nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))),
        (byhand.nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (byhand.nn.RMSNorm(3), torch.nn.RMSNorm(3)),
        (byhand.nn.Embedding(5, 2, padding_idx=-2), torch.nn.Embedding(5, 2, padding_idx=-2)),
    ]:
        ours.load_state_dict(theirs.state_dict(), strict=True)
        theirs.load_state_dict(ours.state_dict(), strict=True)
        assert list(ours.state_dict()) == list(theirs.state_dict())


def test_instance_norm_running_stats_match_pytorch_over_five_steps():
    ours = byhand.nn.InstanceNorm1d(3, track_running_stats=True, affine=True).double()
    theirs = torch.nn.InstanceNorm1d(3, track_running_stats=True, affine=True).double()
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        x = 2 + torch.randn(4, 3, 7, generator=g, dtype=torch.float64)
        ours(x), theirs(x)
    assert _max_err(ours.running_var, theirs.running_var) < 1e-13
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 0  # never moves


def test_rms_norm_eps_none_is_the_machine_epsilon_of_the_dtype():
    x = torch.full((2, 4), 1e-4, dtype=torch.float32)
    ours = byhand.nn.RMSNorm(4)(x)
    assert _max_err(ours, torch.nn.RMSNorm(4)(x)) == 0.0
    # eps = finfo(float32).eps ≈ 1.19e-7 against a mean square of 1e-8: the output is 0.28, not 1
    assert ours[0, 0].item() == pytest.approx(1e-4 / math.sqrt(1e-8 + 2**-23), rel=1e-6)


# --- pitfalls ---------------------------------------------------------------------------------
def test_pitfall_biased_running_variance_drifts_in_eval():
    """A running variance updated with the biased batch variance is (M − 1)/M too small."""
    g = torch.Generator().manual_seed(4)
    theirs = byhand.nn.BatchNorm1d(3).double()  # PyTorch's update (the registry checks it)
    biased_running_var = torch.ones(3, dtype=torch.float64)
    for _ in range(200):  # M = 4 values per channel, from N(0, 2²)
        x = 2 * torch.randn(4, 3, generator=g, dtype=torch.float64)
        theirs(x)
        biased_running_var.lerp_(x.var(0, correction=0), 0.1)
    ratio = (biased_running_var / theirs.running_var).mean().item()
    print(f"biased/unbiased running variance after 200 steps of M=4: {ratio:.3f}")
    assert ratio == pytest.approx(
        0.75, abs=1e-9
    )  # exactly (M − 1)/M once the start is forgotten
    assert theirs.running_var.mean().item() == pytest.approx(4.0, rel=0.25)  # near σ² = 4
    # In eval mode every output is then √(4/3) = 1.155× too large.
    scale = math.sqrt(1 / ratio)
    assert scale == pytest.approx(1.1547, abs=1e-4)


def test_pitfall_momentum_conventions_are_opposite():
    """CS231n keeps 0.9 of the old running mean; PyTorch's momentum=0.1 takes 0.1 of the new."""
    x = torch.tensor([[1.0], [3.0]])  # batch mean 2
    pytorch_style = byhand.nn.BatchNorm1d(1, momentum=0.1)
    pytorch_style(x)
    cs231n_momentum = 0.9
    cs231n_running_mean = cs231n_momentum * 0.0 + (1 - cs231n_momentum) * 2.0
    assert pytorch_style.running_mean.item() == pytest.approx(cs231n_running_mean)  # both 0.2
    mistaken = byhand.nn.BatchNorm1d(1, momentum=0.9)  # CS231n's number given to PyTorch
    mistaken(x)
    assert mistaken.running_mean.item() == pytest.approx(1.8)  # 9× too far in one step


def test_pitfall_dropout_p_is_the_drop_probability():
    """CS231n's p=0.8 means keep 80%; PyTorch's p=0.8 drops 80% (bound: 5σ over 10⁶ draws)."""
    torch.manual_seed(5)
    n = 10**6
    kept = (byhand.nn.Dropout(p=0.8)(torch.ones(n)) != 0).double().mean().item()
    bound = 5 * math.sqrt(0.2 * 0.8 / n)  # 5σ of a fraction of 10⁶ Bernoulli(0.2) draws
    assert abs(kept - 0.2) < bound, (kept, bound)


def test_pitfall_batch_norm_with_one_value_per_channel_in_training():
    layer = byhand.nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 4\)"):
        layer(torch.randn(1, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(4)(torch.randn(1, 4))  # PyTorch's own error
    layer.eval()
    assert layer(torch.randn(1, 4)).shape == (1, 4)  # eval uses the running statistics


def test_pitfall_per_device_batch_norm_without_sync():
    """Two "devices" each normalising its half of a batch, against the whole batch at once."""
    g = torch.Generator().manual_seed(6)
    # A batch of 32 whose two halves differ (sharded by source, not shuffled): means 0 and 1.
    half_a = torch.randn(16, 4, generator=g, dtype=torch.float64)
    half_b = 1 + torch.randn(16, 4, generator=g, dtype=torch.float64)
    whole = byhand.nn.BatchNorm1d(4).double()
    synced = whole(torch.cat([half_a, half_b]))
    per_device = [byhand.nn.BatchNorm1d(4).double() for _ in range(2)]
    unsynced = torch.cat([per_device[0](half_a), per_device[1](half_b)])
    gap = _max_err(unsynced, synced)
    rank0_mean_error = _max_err(per_device[0].running_mean, whole.running_mean)
    print(
        f"outputs differ by up to {gap:.2f}; rank 0's running mean is off by {rank0_mean_error:.3f}"
    )
    assert gap > 0.4  # each half is re-centred on its own mean: a shift of ~0.5 σ
    assert rank0_mean_error > 0.04  # rank 0 (whose buffers DDP keeps) saw only its half
    # With shuffled (identically distributed) halves the gap is only sampling noise.
    mixed = torch.cat([half_a, half_b])[torch.randperm(32, generator=g)]
    shuffled = torch.cat([per_device[0](mixed[:16]), per_device[1](mixed[16:])])
    assert _max_err(shuffled, whole(mixed)) < gap


# --- clear errors -----------------------------------------------------------------------------
def test_errors_name_what_was_expected_and_what_came():
    """The exception classes are PyTorch's (RuntimeError for a wrong shape, ValueError for a
    wrong number of dimensions or a bad argument); the messages name both sides."""
    with pytest.raises(
        RuntimeError, match=r"BatchNorm2d expects \(N, C=8, H, W\), got \(4, 3, 5, 5\)"
    ):
        byhand.nn.BatchNorm2d(8)(torch.randn(4, 3, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d expects \(N, C=3\) or \(N, C=3, L\)"):
        byhand.nn.BatchNorm1d(3)(torch.randn(2, 3, 4, 5))
    with pytest.raises(
        RuntimeError, match="InstanceNorm2d expects C=3 channels.*got \\(2, 4, 5, 5\\)"
    ):
        byhand.nn.InstanceNorm2d(3, affine=True)(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="num_channels=6, num_groups=4"):
        byhand.nn.GroupNorm(4, 6)
    with pytest.raises(
        RuntimeError, match=r"GroupNorm expects \(N, C, \*\) with C=6, got \(2, 4\)"
    ):
        byhand.nn.GroupNorm(3, 6)(torch.randn(2, 4))
    with pytest.raises(
        RuntimeError, match=r"layer_norm expects input of shape \(\*, 4, 5\), got \(2, 5, 4\)"
    ):
        byhand.nn.LayerNorm((4, 5))(torch.randn(2, 5, 4))
    with pytest.raises(
        RuntimeError, match=r"rms_norm expects input of shape \(\*, 3\), got \(2, 4\)"
    ):
        byhand.nn.RMSNorm(3)(torch.randn(2, 4))
    for make in (
        lambda: byhand.nn.Dropout(1.5),
        lambda: byhand.nn.Dropout1d(-0.1),
        lambda: byhand.nn.Dropout2d(2),
        lambda: byhand.nn.DropConnect(byhand.nn.Linear(2, 2), p=-1),
        lambda: byhand.nn.DropBlock2d(1.2, 3),
    ):
        with pytest.raises(
            ValueError, match=r"expects p in \[0, 1\] \(the probability of dropping\), got"
        ):
            make()
    with pytest.raises(ValueError, match=r"dropout expects p in \[0, 1\].*got 1.5"):
        F.dropout(torch.ones(3), 1.5)
    table = byhand.nn.Embedding(5, 2)
    with pytest.raises(
        IndexError,
        match=r"index 7 is out of range for num_embeddings=5 \(valid indices are 0..4\)",
    ):
        table(torch.tensor([1, 7, 2]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        table(torch.tensor([-1]))
    with pytest.raises(ValueError, match=r"padding_idx in \[-5, 5\), got 5"):
        byhand.nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match=r"block_size <= min\(H, W\) = 4, got 5"):
        byhand.nn.DropBlock2d(0.1, 5)(torch.randn(1, 1, 4, 6))
    with pytest.raises(
        RuntimeError,
        match=r"Unflatten: sizes \(2, 4\) don't multiply up to the size of dim 1 \(6\)",
    ):
        byhand.nn.Unflatten(1, (2, 4))(torch.randn(3, 6))
    with pytest.raises(ValueError, match=r"1 <= top_k <= num_experts=3, got 4"):
        byhand.nn.MixtureOfExperts(2, 2, 3, top_k=4)


# --- dropout family: masks and statistics -----------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (byhand.nn.Dropout(0.3, inplace=True), torch.nn.Dropout(0.3, inplace=True), (6, 7)),
        (byhand.nn.Dropout1d(0.4), torch.nn.Dropout1d(0.4), (5, 9)),
        (
            byhand.nn.Dropout2d(0.5, inplace=True),
            torch.nn.Dropout2d(0.5, inplace=True),
            (3, 4, 2, 2),
        ),
    ],
)
def test_dropout_masks_are_pytorchs_on_the_cpu_inplace_and_unbatched(ours, theirs, shape):
    x = torch.randn(shape)
    a, b = x.clone(), x.clone()
    torch.manual_seed(7)
    out_a = ours(a)
    torch.manual_seed(7)
    out_b = theirs(b)
    assert torch.equal(out_a, out_b) and torch.equal(a, b)
    ours.eval()
    kept = ours(x)  # eval: the input's own memory, no copy, as in PyTorch
    assert torch.equal(kept, x) and kept.data_ptr() == x.data_ptr()


def test_dropout2d_reads_3d_input_as_n_c_l_with_pytorchs_warning():
    x = torch.randn(2, 3, 4)
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        torch.manual_seed(8)
        ours = byhand.nn.Dropout2d(0.5)(x)
    with pytest.warns(UserWarning):
        torch.manual_seed(8)
        theirs = torch.nn.Dropout2d(0.5)(x)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_keeps_1_minus_p_and_the_mean_within_5_sigma(p, device):
    torch.manual_seed(9)
    n = 10**6
    out = byhand.nn.Dropout(p)(torch.ones(n, device=device))
    kept = (out != 0).double().mean().item()
    assert abs(kept - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    # each output is 0 or 1/(1 − p): variance p/(1 − p), so the mean of 10⁶ has σ = √(p/((1−p)n))
    assert abs(out.double().mean().item() - 1) < 5 * math.sqrt(p / ((1 - p) * n))
    values = out.unique()
    assert (
        len(values) == 2 and values[0] == 0 and values[1].item() == pytest.approx(1 / (1 - p))
    )


@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_drops_whole_channels_at_rate_p(device):
    torch.manual_seed(10)
    p, channels = 0.3, 250 * 4000  # 10⁶ channels of 2×2
    out = byhand.nn.Dropout2d(p)(torch.ones(250, 4000, 2, 2, device=device))
    flat = out.reshape(channels, 4)
    assert torch.equal(flat.amin(1), flat.amax(1))  # every channel all kept or all dropped
    dropped = (flat[:, 0] == 0).double().mean().item()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / channels)


def test_drop_connect_shares_one_weight_mask_and_is_linear_in_eval():
    linear = byhand.nn.Linear(5, 4)
    layer = byhand.nn.DropConnect(linear, p=0.5)
    x = torch.randn(3, 5)
    torch.manual_seed(11)
    out = layer(x)
    torch.manual_seed(11)
    mask = torch.empty_like(linear.weight).bernoulli_(0.5)
    assert _max_err(out, x @ (linear.weight * mask * 2).T + linear.bias) < 1e-6
    layer.eval()
    assert torch.equal(layer(x), linear(x))


def _drop_rate_expected(p, block, height, width):
    """Exact expected fraction dropped: 1 − (1 − γ)^(corners covering the position)."""
    rows, cols = height - block + 1, width - block + 1
    gamma = p * height * width / (block**2 * rows * cols)
    cover_r = torch.tensor(
        [min(r, block - 1, rows - 1, height - 1 - r) + 1 for r in range(height)]
    )
    cover_c = torch.tensor(
        [min(c, block - 1, cols - 1, width - 1 - c) + 1 for c in range(width)]
    )
    covers = cover_r[:, None] * cover_c[None, :]
    return (1 - (1 - gamma) ** covers.double()).mean().item()


def test_drop_block_rate_and_contiguous_blocks():
    torch.manual_seed(12)
    p, block, size, maps = 0.1, 3, 16, 4000
    out = byhand.nn.DropBlock2d(p, block)(torch.ones(maps, 1, size, size, dtype=torch.float64))
    dropped = (out == 0).double()
    per_map = dropped.mean((1, 2, 3))
    rate, sigma = per_map.mean().item(), per_map.std().item() / math.sqrt(maps)
    expected = _drop_rate_expected(p, block, size, size)
    print(
        f"DropBlock p={p}, block {block}, {size}×{size}: measured {rate:.4f}, exact {expected:.4f}"
    )
    assert abs(rate - expected) < 5 * sigma
    assert 0.08 < expected < p  # overlapping blocks: a little under p
    # Contiguous: every dropped position lies in a fully dropped block×block square
    # (opening = erosion then dilation by the square leaves a union of squares unchanged).
    corners = dropped.unfold(2, block, 1).unfold(3, block, 1).amin((-1, -2))  # fully dropped
    grown = torch.zeros_like(dropped)
    rows = size - block + 1
    for i in range(block):
        for j in range(block):
            grown[:, :, i : i + rows, j : j + rows] += corners
    assert torch.equal(grown > 0, dropped > 0)
    # kept values are scaled by numel / kept, so the batch's mean stays 1
    assert out.mean().item() == pytest.approx(1.0, abs=1e-6)


def test_drop_block_even_block_size_works():
    torch.manual_seed(13)
    out = byhand.nn.DropBlock2d(0.2, 2)(torch.ones(4, 2, 8, 8))
    assert out.shape == (4, 2, 8, 8)


# --- embedding ----------------------------------------------------------------------------------
def test_embedding_lookup_is_a_one_hot_matmul_and_padding_gets_no_gradient():
    g = torch.Generator().manual_seed(14)
    torch.manual_seed(14)
    table = byhand.nn.Embedding(6, 3, padding_idx=-1).double()
    idx = torch.randint(0, 6, (4, 5), generator=g)
    idx[0, 0] = 5
    out = table(idx)
    one_hot = torch.nn.functional.one_hot(idx, 6).double()
    assert _max_err(out, one_hot @ table.weight) < 1e-15
    out.sum().backward()
    counts = torch.bincount(idx.flatten(), minlength=6).double()
    counts[5] = 0  # padding_idx = -1 → row 5
    assert torch.equal(table.weight.grad, counts[:, None].expand(6, 3))
    assert torch.equal(table.weight[5], torch.zeros(3, dtype=torch.float64))


def test_embedding_max_norm_renormalises_the_table_in_place_as_pytorch():
    torch.manual_seed(15)
    ours = byhand.nn.Embedding(8, 4, max_norm=1.0)
    theirs = torch.nn.Embedding(8, 4, max_norm=1.0)
    theirs.load_state_dict(ours.state_dict())
    idx = torch.tensor([[0, 2, 2], [5, 7, 0]])
    ours(idx), theirs(idx)
    assert _max_err(ours.weight, theirs.weight) < 1e-6
    norms = ours.weight.detach().norm(dim=1)
    assert (norms[[0, 2, 5, 7]] <= 1.0 + 1e-6).all() and (norms[[1, 3]] > 1.0).any()


def test_embedding_from_pretrained_freezes_and_shares():
    vectors = torch.randn(4, 3)
    frozen = byhand.nn.Embedding.from_pretrained(vectors)
    assert (
        frozen.weight.requires_grad is False and frozen.weight.data_ptr() == vectors.data_ptr()
    )
    assert byhand.nn.Embedding.from_pretrained(vectors, freeze=False).weight.requires_grad
    assert torch.equal(frozen(torch.tensor([3, 1])), vectors[[3, 1]])


# --- MLPs and mixture of experts ----------------------------------------------------------------
def test_mixture_of_experts_aux_loss_is_1_when_balanced_and_e_when_collapsed():
    from byhand.nn.functional import load_balancing_loss

    uniform = torch.full((8, 4), 0.25)
    spread = torch.arange(8).remainder(4).unsqueeze(1)  # two tokens per expert
    assert load_balancing_loss(uniform, spread).item() == pytest.approx(1.0)
    collapsed = torch.zeros(8, 4)
    collapsed[:, 0] = 1
    assert load_balancing_loss(collapsed, torch.zeros(8, 1, dtype=torch.long)).item() == 4.0


def test_switch_top1_router_gets_gradient_only_without_renormalisation():
    torch.manual_seed(16)
    x = torch.randn(10, 6, dtype=torch.float64)
    sizes = {}
    for renormalize in (False, True):
        moe = byhand.nn.MixtureOfExperts(6, 3, 4, top_k=1, renormalize=renormalize).double()
        moe(x).sum().backward()
        sizes[renormalize] = moe.gate.weight.grad.abs().max().item()
    assert sizes[False] > 0.01  # Switch: y = p_e · expert_e(x), p_e depends on the gate
    assert sizes[True] < 1e-14  # renormalised top-1 weight is p_e / p_e = 1: rounding only


def test_residual_mlp_is_the_identity_when_its_branch_is_zero():
    block = byhand.nn.ResidualMLP(5, 7)
    torch.nn.init.zeros_(block.fc2.weight), torch.nn.init.zeros_(block.fc2.bias)
    x = torch.randn(3, 5)
    assert torch.equal(block(x), x)


@cuda
def test_layers_follow_the_input_to_cuda():
    for layer, x in [
        (byhand.nn.BatchNorm2d(3), torch.randn(4, 3, 5, 5)),
        (byhand.nn.LayerNorm(5), torch.randn(4, 5)),
        (byhand.nn.GroupNorm(1, 3), torch.randn(2, 3, 4)),
        (byhand.nn.RMSNorm(5), torch.randn(4, 5)),
        (byhand.nn.DropBlock2d(0.2, 3), torch.randn(2, 3, 8, 8)),
        (byhand.nn.MixtureOfExperts(5, 2, 3, top_k=2), torch.randn(4, 5)),
    ]:
        assert layer.to("cuda")(x.to("cuda")).device.type == "cuda"
    table = byhand.nn.Embedding(5, 2).to("cuda")
    assert table(torch.tensor([1, 2], device="cuda")).device.type == "cuda"
