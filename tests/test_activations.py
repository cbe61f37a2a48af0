"""byhand activations: hand-written derivatives against autograd, kinks, in-place, pitfalls."""

import math

import pytest
import torch

import byhand
from byhand.nn import functional as F

# name, formula, derivative, PyTorch's function, kinks (where the derivative is a convention)
ELEMENTWISE = [
    ("relu", F.relu_formula, F.relu_derivative, torch.relu, (0.0,)),
    ("relu6", lambda x: F.hardtanh_formula(x, 0.0, 6.0),
     lambda x: F.hardtanh_derivative(x, None, 0.0, 6.0), torch.nn.functional.relu6, (0.0, 6.0)),
    ("hardtanh", F.hardtanh_formula, F.hardtanh_derivative, torch.nn.functional.hardtanh,
     (-1.0, 1.0)),
    ("leaky_relu", F.leaky_relu_formula, F.leaky_relu_derivative,
     torch.nn.functional.leaky_relu, (0.0,)),
    ("elu", F.elu_formula, F.elu_derivative, torch.nn.functional.elu, (0.0,)),
    ("selu", F.selu_formula, F.selu_derivative, torch.nn.functional.selu, (0.0,)),
    ("celu", lambda x: F.celu_formula(x, 2.0), lambda x: F.celu_derivative(x, None, 2.0),
     lambda x: torch.nn.functional.celu(x, 2.0), (0.0,)),
    ("sigmoid", F.sigmoid_formula, F.sigmoid_derivative, torch.sigmoid, ()),
    ("tanh", F.tanh_formula, F.tanh_derivative, torch.tanh, ()),
    ("softplus", F.softplus_formula, F.softplus_derivative, torch.nn.functional.softplus,
     (20.0,)),
    ("gelu", F.gelu_formula, F.gelu_derivative, torch.nn.functional.gelu, ()),
    ("gelu tanh", lambda x: F.gelu_formula(x, "tanh"),
     lambda x: F.gelu_derivative(x, None, "tanh"),
     lambda x: torch.nn.functional.gelu(x, approximate="tanh"), ()),
    ("silu", F.silu_formula, F.silu_derivative, torch.nn.functional.silu, ()),
    ("mish", F.mish_formula, F.mish_derivative, torch.nn.functional.mish, ()),
    ("hardswish", F.hardswish_formula, F.hardswish_derivative, torch.nn.functional.hardswish,
     (-3.0, 3.0)),
    ("hardsigmoid", F.hardsigmoid_formula, F.hardsigmoid_derivative,
     torch.nn.functional.hardsigmoid, (-3.0, 3.0)),
    ("softsign", F.softsign_formula, F.softsign_derivative, torch.nn.functional.softsign, ()),
    ("logsigmoid", F.logsigmoid_formula, F.logsigmoid_derivative,
     torch.nn.functional.logsigmoid, ()),
]  # fmt: skip
IDS = [row[0] for row in ELEMENTWISE]
GRID = torch.cat(
    [
        torch.linspace(-30, 30, 601, dtype=torch.float64),
        torch.tensor([0.0, 1e-9, -1e-9, 1.0, -1.0, 3.0, -3.0, 6.0, 20.0], dtype=torch.float64),
    ]
)


def _grad(fn, x):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad


@pytest.mark.parametrize(("name", "formula", "derivative", "reference", "kinks"), ELEMENTWISE,
                         ids=IDS)  # fmt: skip
def test_written_derivative_matches_autograd_of_the_formula(
    name, formula, derivative, reference, kinks
):
    """Away from the kinks the derivative is a fact: autograd of the formula must agree.

    On |x| ≤ 12: beyond, autograd of a formula holding e^{-x} can be NaN (the overflow the
    written derivatives avoid; the next test checks them at ±800 against PyTorch).
    """
    away = GRID.abs() <= 12
    for kink in kinks:
        away &= GRID != kink
    x = GRID[away]
    error = (derivative(x) - _grad(formula, x)).abs().max().item()
    # hardsigmoid's slope is PyTorch's 1/6 rounded to float32 (see the test below)
    assert error < (5e-9 if name == "hardsigmoid" else 1e-12), f"{name}: {error:.2e}"


@pytest.mark.parametrize(("name", "formula", "derivative", "reference", "kinks"), ELEMENTWISE,
                         ids=IDS)  # fmt: skip
def test_values_and_gradients_match_pytorch_everywhere(
    name, formula, derivative, reference, kinks
):
    """Including the kinks (where the derivative is PyTorch's convention) and ±800."""
    x = torch.cat([GRID, torch.tensor([800.0, -800.0], dtype=torch.float64)])

    def ours(t):  # the formula forward, the written derivative backward
        return F.Elementwise.apply(t, formula, lambda v, y: derivative(v), {})

    assert (ours(x) - reference(x)).abs().max().item() < 1e-12
    grad_ours, grad_theirs = _grad(ours, x), _grad(reference, x)
    assert torch.isfinite(grad_ours).all()
    assert (grad_ours - grad_theirs).abs().max().item() < 1e-12, name


ALL_ELEMENTWISE = [
    "ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "Sigmoid", "Tanh",
    "Softplus", "GELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Softsign", "LogSigmoid",
]  # fmt: skip


@pytest.mark.parametrize("name", ALL_ELEMENTWISE)
def test_backward_writes_only_into_its_own_new_tensors(name):
    """The backwards work in place on tensors they make: the saved input and output, the
    upstream gradient and a second backward through the same graph are left as they were."""
    x = (4 * torch.randn(3, 5, dtype=torch.float64)).requires_grad_(True)
    y = getattr(byhand.nn, name)().double()(x)
    upstream = torch.randn(3, 5, dtype=torch.float64)
    kept = (x.detach().clone(), y.detach().clone(), upstream.clone())
    (first,) = torch.autograd.grad(y, x, upstream, retain_graph=True)
    (second,) = torch.autograd.grad(y, x, upstream)
    assert torch.equal(first, second), name
    for now, before in zip((x, y, upstream), kept):
        assert torch.equal(now.detach(), before), name


def test_kink_conventions_are_pytorchs():
    at = torch.tensor([0.0, 6.0, -3.0, 3.0], dtype=torch.float64)
    assert F.relu_derivative(at[:1]).item() == 0.0
    assert F.hardtanh_derivative(at[:2], None, 0.0, 6.0).tolist() == [0.0, 0.0]
    assert F.leaky_relu_derivative(at[:1], None, 0.2).item() == pytest.approx(0.2, abs=0)
    assert F.elu_derivative(at[:1], None, 0.5).item() == 0.5
    assert F.hardswish_derivative(at[2:]).tolist() == [0.0, 1.0]


def test_hardsigmoid_slope_is_one_sixth_rounded_to_float32_as_in_pytorch():
    """PyTorch's hardsigmoid backward uses 1/6 in float32 precision even for float64 input."""
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.nn.functional.hardsigmoid(x).sum(), x)
    assert abs(theirs.item() - 1 / 6) > 4e-9  # not the float64 1/6
    (ours,) = torch.autograd.grad(F.hardsigmoid(x).sum(), x)
    assert ours.item() == theirs.item()


def test_abs_at_zero_pitfall_logsigmoid_and_softplus():
    """Written with -x.abs(), autograd's slope at 0 is 1 instead of 1/2."""
    zero = torch.zeros(1, dtype=torch.float64)
    naive = lambda x: torch.clamp(x, max=0) - torch.log1p(torch.exp(-x.abs()))  # noqa: E731
    assert _grad(naive, zero).item() == 1.0
    assert _grad(F.logsigmoid_formula, zero).item() == 0.5
    assert _grad(F.softplus_formula, zero).item() == 0.5


def test_naive_sigmoid_gradient_is_nan_at_minus_800_ours_is_zero():
    x = torch.tensor([-800.0], dtype=torch.float64)
    assert torch.isnan(_grad(F.sigmoid_formula, x)).all()  # autograd of 1 / (1 + e^{-x})
    assert _grad(F.sigmoid, x).item() == 0.0  # σ(1 - σ) from the output


GAUSSIAN_GRID = torch.linspace(-10, 10, 20001, dtype=torch.float64)


def test_gelu_tanh_approximation_error():
    exact = F.gelu(GAUSSIAN_GRID)
    approx = F.gelu(GAUSSIAN_GRID, approximate="tanh")
    difference = (exact - approx).abs()
    assert 1e-4 < difference.max().item() < 1e-3  # measured: 4.7e-4 near |x| = 2
    assert difference.argmax().item() in range(7000, 13001)


INPLACE = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", {}),
    ("SELU", {}), ("CELU", {}), ("SiLU", {}), ("Mish", {}), ("Hardswish", {}),
    ("Hardsigmoid", {}), ("Hardtanh", {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs"), INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_writes_into_input_and_keeps_the_gradient(name, kwargs):
    leaf = (3 * torch.randn(5, 7, dtype=torch.float64)).requires_grad_(True)
    inplace = getattr(byhand.nn, name)(inplace=True, **kwargs)
    plain = getattr(torch.nn, name)(**kwargs)
    hidden = leaf * 1.0
    out = inplace(hidden)
    assert out is hidden
    (grad,) = torch.autograd.grad(out.sum(), leaf)
    (expected,) = torch.autograd.grad(plain(leaf * 1.0).sum(), leaf)
    assert (grad - expected).abs().max().item() < 1e-12
    with pytest.raises(RuntimeError, match="leaf Variable"):
        inplace(leaf)  # as PyTorch: a leaf that requires grad cannot be overwritten


def test_inplace_without_grad_modifies_input():
    x = torch.tensor([-1.0, 2.0])
    assert byhand.nn.ReLU(inplace=True)(x) is x
    assert x.tolist() == [0.0, 2.0]


def _gradient_norm_through(activation, layers=10, width=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(32, width, generator=generator, dtype=torch.float64, requires_grad=True)
    h = x
    for _ in range(layers):
        weight = torch.randn(width, width, generator=generator, dtype=torch.float64)
        h = activation(h @ (weight * math.sqrt(2 / width)).T)
    (grad,) = torch.autograd.grad(h.sum(), x)
    return grad.norm().item()


def test_saturation_sigmoid_gradient_vanishes_relu_does_not():
    sigmoid, relu = _gradient_norm_through(F.sigmoid), _gradient_norm_through(F.relu)
    assert relu / sigmoid > 1e4  # measured under Kaiming-scaled weights: about 1e6


def test_errors_name_what_was_expected():
    with pytest.raises(RuntimeError, match="'none' or 'tanh', got 'fast'"):
        byhand.nn.GELU(approximate="fast")(torch.ones(2))
    with pytest.raises(ValueError, match="max_val > min_val"):
        byhand.nn.Hardtanh(1.0, -1.0)
    with pytest.raises(RuntimeError, match=r"weight of 1 or C=4 elements .* got 3"):
        byhand.nn.PReLU(3)(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="alpha != 0"):
        byhand.nn.CELU(alpha=0.0)(torch.ones(2))


def test_softmax_family_matches_pytorch_and_is_stable():
    x = torch.tensor([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    for ours, theirs in [(F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)]:
        for dim in (0, 1, -1):
            assert torch.allclose(ours(x, dim), theirs(x, dim), atol=1e-12, rtol=0)
    assert torch.allclose(F.softmin(x, 1), torch.nn.functional.softmin(x, 1), atol=1e-15)
    blocked = torch.full((1, 3), float("-inf"))
    assert torch.isnan(F.softmax(blocked, 1)).all()
    assert torch.isnan(torch.softmax(blocked, 1)).all()


def test_softmax_without_dim_warns_and_uses_pytorchs_legacy_choice():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = byhand.nn.Softmax()(x)
    assert torch.allclose(ours, torch.softmax(x, 0), atol=1e-15)  # 3-D: dim 0


def test_softmax_written_backward_matches_autograd_of_the_formula():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, 6, dtype=torch.float64)
    for fn in (F.softmax, F.log_softmax):
        (written,) = torch.autograd.grad(fn(x, 1), x, upstream)
        formula = (lambda t: torch.exp(F.log_softmax_formula(t, 1))) if fn is F.softmax else (
            lambda t: F.log_softmax_formula(t, 1))  # fmt: skip
        (auto,) = torch.autograd.grad(formula(x), x, upstream)
        assert (written - auto).abs().max().item() < 1e-14


def test_prelu_state_dict_and_init_like_pytorch():
    ours, theirs = byhand.nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert torch.equal(ours.weight, theirs.weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_activations_on_cuda():
    x = torch.randn(8, 5, device="cuda", requires_grad=True)
    for name in ["ReLU", "Sigmoid", "GELU", "Softplus", "Hardswish", "PReLU", "Softmax"]:
        kwargs = dict(dim=1) if name == "Softmax" else {}
        module = getattr(byhand.nn, name)(**kwargs).cuda()
        twin = getattr(torch.nn, name)(**kwargs).cuda()
        assert torch.allclose(module(x), twin(x), atol=1e-5)
