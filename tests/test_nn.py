"""byhand.nn: Linear, the activation formulas and their derivatives, and the losses."""

import math

import pytest
import torch

import byhand
from byhand.nn import functional as F


# --- Linear -----------------------------------------------------------------------------------
def test_linear_wrong_input_width_names_both_shapes():
    layer = byhand.nn.Linear(7, 5)
    with pytest.raises(RuntimeError) as info:  # PyTorch's class for this, a clearer message
        layer(torch.randn(3, 4))
    assert "(*, 7)" in str(info.value)
    assert "(3, 4)" in str(info.value)


def test_linear_scalar_input_raises_runtime_error():
    with pytest.raises(RuntimeError, match=r"\(\*, 7\)"):
        byhand.nn.Linear(7, 5)(torch.tensor(1.0))


def test_linear_init_bounds_and_std():
    torch.manual_seed(0)
    layer = byhand.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach(), layer.bias.detach()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert float(w.abs().max()) <= bound
    assert float(b.abs().max()) <= bound
    # the whole interval is used, not a narrower one
    assert float(w.max()) > 0.99 * bound and float(w.min()) < -0.99 * bound
    # U(-b, b) has std b / sqrt(3) = 1 / sqrt(3 * fan_in)
    expected_std = 1 / math.sqrt(3 * 400)
    assert abs(float(w.std()) / expected_std - 1) < 0.05
    assert abs(float(w.mean())) < 0.05 * expected_std


def test_linear_without_bias():
    layer = byhand.nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    x = torch.randn(5, 3)
    assert torch.allclose(layer(x), x @ layer.weight.T, atol=0, rtol=0)


# --- functional: activations and their derivatives --------------------------------------------
GRID = torch.cat(
    [
        torch.linspace(-30, 30, 241, dtype=torch.float64),
        torch.tensor([0.0, -0.0, 1e-9, -1e-9], dtype=torch.float64),
    ]
)


def _autograd_derivative(fn, x):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)  # element-wise fn: the gradient is fn'(x)
    return grad


@pytest.mark.parametrize(
    "fn, derivative, reference",
    [
        (F.relu, F.relu_derivative, torch.relu),
        (F.sigmoid, F.sigmoid_derivative, torch.sigmoid),
        (F.tanh, F.tanh_derivative, torch.tanh),
    ],
    ids=["relu", "sigmoid", "tanh"],
)
def test_written_derivative_matches_autograd(fn, derivative, reference):
    assert bool((GRID == 0).any())
    auto = _autograd_derivative(fn, GRID)
    written = derivative(GRID)
    assert float((auto - written).abs().max()) < 1e-12
    # and both match PyTorch's own derivative
    assert float((auto - _autograd_derivative(reference, GRID)).abs().max()) < 1e-12
    # and the values match PyTorch's
    assert float((fn(GRID) - reference(GRID)).abs().max()) < 1e-15


def test_derivatives_at_zero():
    zero = torch.zeros(1, dtype=torch.float64)
    assert F.relu_derivative(zero).item() == 0.0
    assert _autograd_derivative(F.relu, zero).item() == 0.0
    assert F.sigmoid_derivative(zero).item() == 0.25
    assert _autograd_derivative(F.sigmoid, zero).item() == 0.25
    assert F.tanh_derivative(zero).item() == 1.0
    assert _autograd_derivative(F.tanh, zero).item() == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_tanh_finite_with_correct_limits_at_extremes(dtype):
    x = torch.tensor([-1000.0, 1000.0], dtype=dtype, requires_grad=True)
    s, t = F.sigmoid(x), F.tanh(x)
    assert torch.equal(s.detach(), torch.tensor([0.0, 1.0], dtype=dtype))
    assert torch.equal(t.detach(), torch.tensor([-1.0, 1.0], dtype=dtype))
    for y in (s, t):
        (grad,) = torch.autograd.grad(y.sum(), x)
        assert bool(torch.isfinite(grad).all())
        assert torch.equal(grad, torch.zeros(2, dtype=dtype))


def test_minus_abs_pitfall_sigmoid_gradient_at_zero():
    x = torch.zeros((), dtype=torch.float64, requires_grad=True)
    naive = 1 / (1 + torch.exp(-x.abs()))  # same values as sigmoid for x >= 0, abs'(0) = 0
    (naive_grad,) = torch.autograd.grad(naive, x)
    assert naive_grad.item() == 0.0
    (ours_grad,) = torch.autograd.grad(F.sigmoid(x), x)
    assert ours_grad.item() == 0.25
    (minus_abs_grad,) = torch.autograd.grad(F.minus_abs(x), x)
    assert minus_abs_grad.item() == -1.0


def test_log_softmax_large_logits_is_finite_and_matches_torch():
    x = torch.tensor([1000.0, 0.0], dtype=torch.float64)
    ours = F.log_softmax(x, dim=-1)
    assert bool(torch.isfinite(ours).all())
    assert torch.equal(ours, torch.tensor([0.0, -1000.0], dtype=torch.float64))
    assert float((ours - torch.log_softmax(x, dim=-1)).abs().max()) < 1e-12
    # the unshifted formula overflows: e^1000 = inf
    naive = x - torch.log(torch.exp(x).sum())
    assert not bool(torch.isfinite(naive).all())


def test_softmax_rows_sum_to_one_and_match_torch():
    x = 50 * torch.randn(4, 6, dtype=torch.float64)
    ours = F.softmax(x, dim=1)
    assert float((ours.sum(dim=1) - 1).abs().max()) < 1e-14
    assert float((ours - torch.softmax(x, dim=1)).abs().max()) < 1e-14


# --- losses -----------------------------------------------------------------------------------
def test_mse_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        byhand.nn.MSELoss()(torch.randn(4, 5), torch.randn(5))
    assert "(4, 5)" in str(info.value) and "(5,)" in str(info.value)


@pytest.mark.parametrize("loss", [byhand.nn.MSELoss, byhand.nn.CrossEntropyLoss])
def test_unknown_reduction_names_allowed_values(loss):
    with pytest.raises(ValueError) as info:
        loss(reduction="avg")
    message = str(info.value)
    for allowed in ("'none'", "'mean'", "'sum'", "'avg'"):
        assert allowed in message


def test_mse_values():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    # squared errors 0, 4, 9, 16
    assert byhand.nn.MSELoss()(a, b).item() == 29 / 4
    assert byhand.nn.MSELoss(reduction="sum")(a, b).item() == 29
    assert torch.equal(
        byhand.nn.MSELoss(reduction="none")(a, b),
        torch.tensor([[0.0, 4.0], [9.0, 16.0]]).double(),
    )


@pytest.mark.parametrize("bad", [5, -1, 17])
def test_cross_entropy_out_of_range_target_raises_index_error(bad):
    logits = torch.randn(3, 5)
    target = torch.tensor([0, bad, 2])
    with pytest.raises(IndexError, match=str(bad)):
        byhand.nn.CrossEntropyLoss()(logits, target)


def test_cross_entropy_ignore_index_is_not_out_of_range():
    logits = torch.randn(3, 5, dtype=torch.float64)
    target = torch.tensor([0, -100, 2])
    ours = byhand.nn.CrossEntropyLoss()(logits, target)
    assert abs(ours.item() - torch.nn.functional.cross_entropy(logits, target).item()) < 1e-12


@pytest.mark.parametrize(
    "target",
    [torch.tensor([0, 1]), torch.tensor([[0, 1, 2]]), torch.zeros(3, 4)],
    ids=["short", "2-d indices", "probabilities (3, 4)"],
)
def test_cross_entropy_wrong_target_shape_raises_value_error(target):
    with pytest.raises(ValueError, match="expects target of shape"):
        byhand.nn.CrossEntropyLoss()(torch.randn(3, 5), target)


def test_label_smoothing_spreads_over_all_classes():
    K, eps = 4, 0.2
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn(6, K, generator=generator, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 1, 2])
    probs = torch.nn.functional.one_hot(target, K).double() * (1 - eps) + eps / K
    assert torch.allclose(
        probs[0],
        torch.tensor([0.85, 0.05, 0.05, 0.05], dtype=torch.float64),
        atol=1e-15,
        rtol=0,
    )

    smoothed = byhand.nn.CrossEntropyLoss(label_smoothing=eps)(logits, target)
    explicit = byhand.nn.CrossEntropyLoss()(logits, probs)
    assert abs(smoothed.item() - explicit.item()) < 1e-12
    assert (
        abs(
            smoothed.item()
            - torch.nn.functional.cross_entropy(logits, target, label_smoothing=eps).item()
        )
        < 1e-12
    )

    # spreading eps over the K - 1 wrong classes only gives a different loss
    one_hot = torch.nn.functional.one_hot(target, K).double()
    other = one_hot * (1 - eps) + (1 - one_hot) * eps / (K - 1)
    assert abs(byhand.nn.CrossEntropyLoss()(logits, other).item() - smoothed.item()) > 1e-3


def test_cross_entropy_weight_is_a_buffer_like_torch():
    weight = torch.tensor([0.5, 2.0, 1.0, 0.25])
    ours = byhand.nn.CrossEntropyLoss(weight=weight).to(torch.float64)
    assert ours.weight.dtype == torch.float64
    theirs = torch.nn.CrossEntropyLoss(weight=weight)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs = theirs.to(torch.float64)

    logits = torch.randn(5, 4, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 1])
    assert abs(ours(logits, target).item() - theirs(logits, target).item()) < 1e-12


def test_cross_entropy_without_weight_has_empty_state_dict():
    assert (
        list(byhand.nn.CrossEntropyLoss().state_dict())
        == list(torch.nn.CrossEntropyLoss().state_dict())
        == []
    )
