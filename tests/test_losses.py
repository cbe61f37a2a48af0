"""byhand losses: oracles' special cases, pitfalls with their numbers, and clear errors."""

import math

import pytest
import torch

import byhand
from byhand.nn import functional as F

G = torch.Generator().manual_seed(3)
LOGITS = 3 * torch.randn(8, 5, generator=G, dtype=torch.float64)
BINARY = torch.rand(8, 5, generator=G, dtype=torch.float64).round()
CLASSES = torch.randint(0, 5, (8,), generator=G)


def test_focal_with_gamma_0_and_no_alpha_is_cross_entropy():
    binary = F.focal_loss(LOGITS, BINARY, alpha=None, gamma=0.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(LOGITS, BINARY)
    assert abs(binary.item() - bce.item()) < 1e-14
    multi = F.focal_loss(LOGITS, CLASSES, alpha=None, gamma=0.0)
    ce = torch.nn.functional.cross_entropy(LOGITS, CLASSES)
    assert abs(multi.item() - ce.item()) < 1e-14
    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 3.0], dtype=torch.float64)
    weighted = F.focal_loss(LOGITS, CLASSES, alpha=weight, gamma=0.0)
    assert (
        abs(weighted.item() - torch.nn.functional.cross_entropy(LOGITS, CLASSES, weight).item())
        < 1e-14
    )


def test_focal_matches_torchvision_when_installed():
    ops = pytest.importorskip("torchvision.ops")
    theirs = ops.sigmoid_focal_loss(LOGITS, BINARY, alpha=0.25, gamma=2.0, reduction="mean")
    ours = F.focal_loss(LOGITS, BINARY, alpha=0.25, gamma=2.0)
    assert abs(ours.item() - theirs.item()) < 1e-14


def test_focal_alpha_on_every_term_only_rescales():
    """α on positives and 1 - α on negatives reweights; α on every term is a constant factor."""
    plain = F.focal_loss(LOGITS, BINARY, alpha=None, gamma=2.0, reduction="none")
    everywhere = 0.25 * plain
    balanced = F.focal_loss(LOGITS, BINARY, alpha=0.25, gamma=2.0, reduction="none")
    positives, negatives = BINARY == 1, BINARY == 0
    share = lambda loss: (loss[positives].sum() / loss.sum()).item()  # noqa: E731
    assert abs(share(everywhere) - share(plain)) < 1e-15  # same balance: only rescaled
    assert share(plain) - share(balanced) > 0.1  # measured: positives' share falls sharply
    assert torch.allclose(balanced[negatives], 0.75 * plain[negatives], atol=1e-15)


def test_pinball_at_one_half_is_half_l1():
    x, y = torch.randn(2, 6, 4, generator=G, dtype=torch.float64)
    assert abs(F.quantile_loss(x, y, 0.5).item() - 0.5 * F.l1_loss(x, y).item()) < 1e-15


def test_pinball_minimiser_is_the_quantile():
    y = torch.randn(2001, generator=G, dtype=torch.float64)
    candidates = torch.linspace(-3, 3, 601, dtype=torch.float64)
    for tau in (0.1, 0.5, 0.9):
        losses = [F.quantile_loss(c.expand_as(y), y, tau).item() for c in candidates]
        best = candidates[torch.tensor(losses).argmin()].item()
        assert abs(best - torch.quantile(y, tau).item()) < 0.02


def test_several_quantiles_are_one_column_each():
    y = torch.randn(5, generator=G, dtype=torch.float64)
    x = torch.randn(5, 3, generator=G, dtype=torch.float64)
    several = F.quantile_loss(x, y, (0.1, 0.5, 0.9), reduction="none")
    for column, tau in enumerate((0.1, 0.5, 0.9)):
        one = F.quantile_loss(x[:, column], y, tau, reduction="none")
        assert torch.equal(several[:, column], one)


def test_hard_mining_gradient_is_finite_where_the_naive_one_is_nan():
    """The anchor to itself is at distance 0: √ of a Gram-matrix distance has slope ∞ there."""
    x = torch.randn(32, 3, generator=G, dtype=torch.float64, requires_grad=True)
    labels = torch.arange(32) % 4
    squared_norms = (x * x).sum(1)
    naive_d = (
        (squared_norms[:, None] + squared_norms[None, :] - 2 * x @ x.T).clamp(min=0).sqrt()
    )
    same = labels[:, None] == labels[None, :]
    positive = torch.where(same, naive_d, 0).amax(1)
    negative = torch.where(~same, naive_d, float("inf")).amin(1)
    (naive,) = torch.autograd.grad(torch.relu(positive - negative + 1).mean(), x)
    nan_rows = int(torch.isnan(naive).any(dim=1).sum())
    assert nan_rows >= 16  # rows whose own squared distance rounds to exactly 0: 0 · ∞
    (ours,) = torch.autograd.grad(F.triplet_mining_loss(x, labels), x)
    assert torch.isfinite(ours).all() and ours.abs().sum() > 0


def test_bce_at_probabilities_0_and_1_is_clamped_like_pytorch():
    p = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    ours = F.binary_cross_entropy(p, y, reduction="none")
    assert ours.detach().tolist()[:2] == [100.0, 100.0]  # log clamped at -100, not inf
    naive = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    assert torch.isinf(naive[:2]).all()
    (grad,) = torch.autograd.grad(ours.sum(), p)
    theirs = torch.nn.functional.binary_cross_entropy(p, y, reduction="none")
    (grad_theirs,) = torch.autograd.grad(theirs.sum(), p)
    # ±1e12: (x - y) / max(x (1 - x), 1e-12)
    assert torch.allclose(grad, grad_theirs, rtol=1e-12, atol=0)
    assert grad[0].item() == -1 / F.BCE_EPSILON  # 1e-12 in float32: -1.000000004e12


def test_label_smoothing_over_k_minus_1_is_a_different_loss():
    eps, k = 0.1, 5
    ours = F.cross_entropy(LOGITS, CLASSES, label_smoothing=eps).item()
    one_hot = torch.nn.functional.one_hot(CLASSES, k).double()
    other = one_hot * (1 - eps) + (1 - one_hot) * eps / (k - 1)
    assert abs(F.cross_entropy(LOGITS, other).item() - ours) > 1e-3


def test_cross_entropy_every_target_ignored_is_nan_with_zero_gradient():
    x = LOGITS.clone().requires_grad_(True)
    loss = byhand.nn.CrossEntropyLoss()(x, torch.full((8,), -100))
    assert torch.isnan(loss)
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.equal(grad, torch.zeros_like(x))


def test_smooth_l1_with_beta_0_is_l1():
    x, y = torch.randn(2, 5, 3, generator=G, dtype=torch.float64)
    assert F.smooth_l1_loss(x, y, beta=0.0).item() == F.l1_loss(x, y).item()
    assert (
        abs(
            F.smooth_l1_loss(x, y, beta=0.0).item()
            - torch.nn.functional.smooth_l1_loss(x, y, beta=0.0).item()
        )
        < 1e-15
    )


def test_huber_is_beta_times_smooth_l1():
    x, y = 3 * torch.randn(2, 50, generator=G, dtype=torch.float64)
    for delta in (0.5, 2.0):
        huber = F.huber_loss(x, y, delta=delta).item()
        assert abs(huber - delta * F.smooth_l1_loss(x, y, beta=delta).item()) < 1e-14


def test_huber_delta_as_a_cpu_tensor_breaks_on_another_device():
    """``torch.tensor(delta)`` made inside forward sits on the CPU; the meta device stands in
    for CUDA here (and the CUDA test below runs it for real)."""
    x, y = torch.randn(4, device="meta"), torch.randn(4, device="meta")

    def naive_huber(input, target, delta=1.0):
        r = (input - target).abs()
        delta = torch.tensor([delta])  # on the CPU, whatever device the input is on
        return torch.where(r < delta, 0.5 * r**2, delta * (r - 0.5 * delta)).mean()

    with pytest.raises(RuntimeError, match="device"):
        naive_huber(x, y)
    assert byhand.nn.HuberLoss()(x, y).device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_on_cuda():
    x, y = torch.randn(2, 6, 5, device="cuda")
    for loss in (byhand.nn.HuberLoss(delta=0.5), byhand.nn.SmoothL1Loss(beta=0.5),
                 byhand.nn.QuantileLoss(0.9), byhand.nn.FocalLoss(alpha=0.25)):  # fmt: skip
        target = (y > 0).float() if isinstance(loss, byhand.nn.FocalLoss) else y
        assert loss(x, target).device.type == "cuda"
    labels = torch.arange(6, device="cuda") % 2
    assert byhand.nn.TripletMiningLoss()(x, labels).device.type == "cuda"
    assert byhand.nn.NTXentLoss()(x, y).device.type == "cuda"


def test_kl_div_batchmean_is_the_divergence_per_sample():
    p = torch.softmax(torch.randn(4, 6, generator=G, dtype=torch.float64), 1)
    q = torch.softmax(torch.randn(4, 6, generator=G, dtype=torch.float64), 1)
    kl = (p * (p.log() - q.log())).sum(1).mean()
    assert abs(F.kl_div(q.log(), p, reduction="batchmean").item() - kl.item()) < 1e-15
    assert abs(F.kl_div(q.log(), p, reduction="mean").item() - kl.item() / 6) < 1e-15


def test_contrastive_and_ntxent_special_values():
    x = torch.randn(4, 3, generator=G, dtype=torch.float64)
    far = x + 10
    loss = F.contrastive_loss(x, x, torch.ones(4, dtype=torch.long))
    assert loss.item() == 0.0  # similar pairs at distance 0
    assert (
        F.contrastive_loss(x, far, torch.zeros(4, dtype=torch.long), margin=1.0).item() == 0.0
    )
    # two identical views of orthogonal rows: the positive has cosine 1, the rest 0
    views = torch.eye(4, dtype=torch.float64)
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + 6))
    assert abs(F.nt_xent_loss(views, views, 0.5).item() - expected) < 1e-12


# --- clear errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "loss",
    [byhand.nn.MSELoss(), byhand.nn.L1Loss(), byhand.nn.SmoothL1Loss(), byhand.nn.HuberLoss(),
     byhand.nn.BCEWithLogitsLoss(), byhand.nn.KLDivLoss(), byhand.nn.QuantileLoss(0.3)],
    ids=lambda m: type(m).__name__,
)  # fmt: skip
def test_target_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 1\)"):
        loss(torch.rand(4, 5), torch.rand(4, 1))


def test_class_index_errors():
    logp = torch.log_softmax(torch.randn(3, 4), 1)
    with pytest.raises(RuntimeError, match="class indices of dtype int64.*got torch.float32"):
        byhand.nn.NLLLoss()(logp, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(IndexError, match="target 7 is out of range for 4 classes"):
        byhand.nn.NLLLoss()(logp, torch.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="target 4 is out of range for 4 classes"):
        byhand.nn.FocalLoss()(torch.randn(3, 4), torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\)"):
        byhand.nn.NLLLoss()(logp, torch.tensor([0, 1]))


def test_bce_refuses_probabilities_outside_0_1():
    with pytest.raises(RuntimeError, match=r"in \[0, 1\], got 1.5.*with_logits"):
        byhand.nn.BCELoss()(torch.tensor([0.2, 1.5]), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: byhand.nn.TripletMarginLoss(margin=-1.0), "margin > 0, got -1.0"),
        (lambda: byhand.nn.ContrastiveLoss(margin=-0.5), "margin >= 0, got -0.5"),
        (lambda: byhand.nn.TripletMiningLoss(margin=-0.1), "margin >= 0, got -0.1"),
        (lambda: byhand.nn.NTXentLoss(temperature=0.0), "temperature > 0, got 0.0"),
        (lambda: byhand.nn.FocalLoss(gamma=-1.0), "gamma >= 0, got -1.0"),
        (lambda: byhand.nn.KLDivLoss(reduction="avg"), "'batchmean'"),
    ],
)
def test_meaningless_settings_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_mismatched_batch_sizes_are_refused():
    with pytest.raises(ValueError, match="batch sizes differ, 4 inputs and 3 targets"):
        byhand.nn.CosineEmbeddingLoss()(torch.randn(4, 2), torch.randn(4, 2), torch.ones(3))
    with pytest.raises(ValueError, match=r"\(4, 2\) and target \(3,\)"):
        byhand.nn.ContrastiveLoss()(torch.randn(4, 2), torch.randn(4, 2), torch.ones(3))
    with pytest.raises(ValueError, match=r"\(5, 2\) and \(4,\)"):
        byhand.nn.TripletMiningLoss()(torch.randn(5, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        byhand.nn.NTXentLoss()(torch.randn(4, 2), torch.randn(3, 2))


def test_quantiles_must_be_inside_0_1():
    with pytest.raises(ValueError, match=r"quantiles in \(0, 1\), got \(0.5, 1.0\)"):
        byhand.nn.QuantileLoss((0.5, 1.0))(torch.randn(3, 2), torch.randn(3))


def test_legacy_size_average_and_reduce_map_like_pytorch():
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        with pytest.warns(UserWarning):
            ours = byhand.nn.L1Loss(size_average=size_average, reduce=reduce)
        with pytest.warns(UserWarning):
            theirs = torch.nn.L1Loss(size_average=size_average, reduce=reduce)
        assert ours.reduction == theirs.reduction


def test_weights_are_buffers_with_pytorchs_keys():
    w = torch.tensor([1.0, 2.0])
    for name, kwargs in [("NLLLoss", dict(weight=w)), ("BCELoss", dict(weight=w)),
                         ("BCEWithLogitsLoss", dict(weight=w, pos_weight=w))]:  # fmt: skip
        ours, theirs = getattr(byhand.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
