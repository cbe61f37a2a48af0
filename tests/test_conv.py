"""Convolution and pooling: the errors, pitfalls and oracles the registry's twins do not cover."""

import importlib.util

import pytest
import torch

import byhand
from byhand.nn import functional as F
from byhand.verify.pairs import Case, ModulePair
from byhand.verify.registry import conv as registry_conv

TF = torch.nn.functional
F64 = torch.float64


def _twins(ours_cls, theirs_cls, *args, **kwargs):
    torch.manual_seed(0)
    ours = ours_cls(*args, **kwargs).double()
    torch.manual_seed(0)
    theirs = theirs_cls(*args, **kwargs).double()
    return ours, theirs


def _run_both(ours, theirs, x):
    a, b = x.detach().clone().requires_grad_(True), x.detach().clone().requires_grad_(True)
    ya, yb = ours(a), theirs(b)
    g = torch.randn_like(yb)
    ya.backward(g)
    yb.backward(g)
    return (ya, a.grad), (yb, b.grad)


# --- clear errors -----------------------------------------------------------------------------
def test_wrong_rank_names_the_expected_shapes():
    layer = byhand.nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match=r"\(N, C, H, W\) or \(C, H, W\).*\(2, 3, 5, 5, 5\)"):
        layer(torch.randn(2, 3, 5, 5, 5))
    with pytest.raises(RuntimeError, match=r"\(N, C, L\) or \(C, L\).*\(3,\)"):
        byhand.nn.Conv1d(3, 4, 3)(torch.randn(3))


def test_channel_mismatch_names_expected_and_received():
    with pytest.raises(RuntimeError) as info:  # PyTorch's class, a clearer message
        byhand.nn.Conv2d(3, 4, 3)(torch.randn(2, 5, 8, 8))
    message = str(info.value)
    assert "in_channels=3" in message and "got 5" in message and "(2, 5, 8, 8)" in message
    with pytest.raises(RuntimeError, match=r"expects input with 6 channels.*got 4 channels"):
        F.conv2d(torch.randn(1, 4, 5, 5), torch.randn(2, 3, 3, 3), groups=2)


def test_groups_must_divide_both_channel_counts():
    with pytest.raises(ValueError, match=r"groups=3 must divide in_channels=4"):
        byhand.nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"out_channels=5"):
        byhand.nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups=2 must divide"):
        byhand.nn.ConvTranspose2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):  # PyTorch raises the same type
        torch.nn.Conv2d(4, 6, 3, groups=3)


def test_same_padding_with_stride_is_refused():
    with pytest.raises(ValueError, match=r"padding='same'.*strided.*stride=2"):
        byhand.nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding='same'.*strided"):
        F.conv2d(
            torch.randn(1, 3, 6, 6), torch.randn(4, 3, 3, 3), stride=(1, 2), padding="same"
        )


def test_kernel_larger_than_padded_input():
    with pytest.raises(RuntimeError, match=r"spans 5 along axis 0.*\(3 \+ 0 \+ 0 = 3\)"):
        F.conv2d(torch.randn(1, 2, 3, 9), torch.randn(2, 2, 3, 3), padding=(0, 1), dilation=2)
    with pytest.raises(RuntimeError):  # PyTorch refuses too (with a RuntimeError)
        TF.conv2d(torch.randn(1, 2, 3, 9), torch.randn(2, 2, 3, 3), padding=(0, 1), dilation=2)


def test_offset_of_the_wrong_shape():
    layer = byhand.nn.DeformableConv2d(2, 3, 3, padding=1)
    x = torch.randn(1, 2, 5, 6)
    with pytest.raises(
        ValueError, match=r"offset of shape \(N=1, 2·G·3·3, 5, 6\).*\(1, 18, 4, 6\)"
    ):
        layer(x, torch.zeros(1, 18, 4, 6))
    with pytest.raises(ValueError, match=r"offset of shape.*\(1, 17, 5, 6\)"):
        layer(x, torch.zeros(1, 17, 5, 6))
    with pytest.raises(ValueError, match=r"mask of shape \(1, 9, 5, 6\)"):
        layer(x, torch.zeros(1, 18, 5, 6), torch.ones(1, 18, 5, 6))


def test_pool_padding_larger_than_half_the_kernel():
    with pytest.raises(RuntimeError, match=r"at most half of the effective kernel"):
        byhand.nn.MaxPool2d(2, padding=2)(torch.randn(1, 1, 6, 6))
    with pytest.raises(RuntimeError, match="half"):
        torch.nn.MaxPool2d(2, padding=2)(torch.randn(1, 1, 6, 6))


# --- pitfalls ---------------------------------------------------------------------------------
def test_max_pool_gradient_with_tied_maxima_goes_to_one_element():
    """A ``window == max`` mask sends the gradient to every tie: 4 times as much here."""
    x = torch.ones(1, 1, 4, 4, dtype=F64, requires_grad=True)  # every window is all ties
    F.max_pool2d(x, 2).sum().backward()
    windows = x.detach().unfold(2, 2, 2).unfold(3, 2, 2)
    mask = windows == windows.amax(dim=(-2, -1), keepdim=True)
    assert float(x.grad.sum()) == 4.0  # one unit of gradient per window: 4 windows
    assert int(mask.sum()) == 16  # the mask routes to all 16 elements
    x_ref = x.detach().clone().requires_grad_(True)
    TF.max_pool2d(x_ref, 2).sum().backward()
    assert torch.equal(x.grad, x_ref.grad)  # and to the same (first) element as PyTorch
    assert x.grad[0, 0, 0, 0] == 1 and x.grad[0, 0, 1, 1] == 0


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # size 5, k 2, s 2, p 1: ⌈(5 + 2 − 2) / 2⌉ + 1 = 4 by the formula alone; the 4th window
    # would start at padded index 6, inside the right padding only, so PyTorch keeps 3.
    assert -(-(5 + 2 - 2) // 2) + 1 == 4
    assert F.pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    assert F.pool_output_size(5, 2, 2, padding=1, ceil_mode=False) == 3
    assert F.pool_output_size(6, 3, 2, ceil_mode=False) == 2
    assert F.pool_output_size(6, 3, 2, ceil_mode=True) == 3
    x = torch.randn(1, 1, 5, 5)
    assert torch.nn.MaxPool2d(2, 2, 1, ceil_mode=True)(x).shape[-1] == 3
    assert byhand.nn.MaxPool2d(2, 2, 1, ceil_mode=True)(x).shape[-1] == 3


def test_conv_output_size_formula_matches_pytorch():
    for size, k, s, p, d in [
        (7, 3, 2, 1, 1),
        (9, 3, 1, 0, 2),
        (10, 4, 3, 2, 1),
        (5, 5, 1, 0, 1),
    ]:
        expected = TF.conv2d(
            torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), None, s, p, d
        )
        assert F.conv_output_size(size, k, s, p, d) == expected.shape[-1]


def test_a_deformable_conv_that_ignores_its_offsets_is_caught():
    class IgnoresOffsets(byhand.nn.DeformableConv2d):
        def forward(self, input, offset, mask=None):
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding)

    entry = registry_conv.VARIANT_ENTRIES[1]
    assert entry.name == "nn.DeformableConv2d"
    honest = ModulePair(**{**entry.__dict__, "gradcheck": False})  # gradcheck: the registry's
    fake = ModulePair(**{**honest.__dict__, "ours": IgnoresOffsets})
    case = Case("k3", dict(in_channels=2, out_channels=3, kernel_size=3, padding=1))
    honest, caught = honest.check(case, "train"), fake.check(case, "train")
    assert honest.passed and honest.max_abs_err["forward"] < 1e-12
    assert not caught.passed
    assert caught.max_abs_err["forward"] > 0.5  # the offsets (σ = 1.3 px) move the output a lot
    assert any("grad.input1" in failure for failure in caught.failures)  # no offset gradient


# --- oracles ----------------------------------------------------------------------------------
def test_deformable_with_zero_offsets_is_conv2d():
    ours, plain = _twins(byhand.nn.DeformableConv2d, torch.nn.Conv2d, 3, 4, 3, 2, 1, 2)
    x = torch.randn(2, 3, 9, 8, dtype=F64)
    offset = torch.zeros(2, 18, 4, 3, dtype=F64)
    (y, gx), (y_ref, gx_ref) = _run_both(lambda t: ours(t, offset), plain, x)
    assert torch.allclose(y, y_ref, atol=1e-12)
    assert torch.allclose(gx, gx_ref, atol=1e-12)
    assert torch.allclose(ours.weight.grad, plain.weight.grad, atol=1e-12)


def test_deformable_with_integer_offsets_is_a_shifted_conv():
    """Every tap moved by (Δy, Δx) = (1, −2) equals a plain conv of a window moved by it."""
    ours, plain = _twins(byhand.nn.DeformableConv2d, torch.nn.Conv2d, 2, 3, 3, padding=1)
    x = torch.randn(1, 2, 7, 7, dtype=F64)
    offset = torch.zeros(1, 9, 2, 7, 7, dtype=F64)
    offset[:, :, 0], offset[:, :, 1] = 1.0, -2.0
    canvas = TF.pad(x, (4, 4, 4, 4))  # x[a, b] sits at canvas[a + 4, b + 4]
    # output (i, j), tap (u, v) reads x[i − 1 + u + 1, j − 1 + v − 2] = canvas[4 + i + u, 1 + j + v]
    moved = canvas[:, :, 4 : 4 + 9, 1 : 1 + 9]
    y = ours(x, offset.view(1, 18, 7, 7))
    assert torch.allclose(y, TF.conv2d(moved, plain.weight, plain.bias), atol=1e-12)
    assert not torch.allclose(y, plain(x), atol=1e-3)  # and it is not the unshifted conv


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="needs torchvision")
def test_deformable_matches_torchvision():
    from torchvision.ops import deform_conv2d

    ours = byhand.nn.DeformableConv2d(
        4, 6, 3, stride=2, padding=1, dilation=1, groups=2
    ).double()
    x = torch.randn(2, 4, 9, 8, dtype=F64)
    offset = 1.3 * torch.randn(2, 2 * 2 * 9, 5, 4, dtype=F64)
    mask = torch.rand(2, 2 * 9, 5, 4, dtype=F64)
    expected = deform_conv2d(x, offset, ours.weight, ours.bias, (2, 2), (1, 1), (1, 1), mask)
    assert torch.allclose(ours(x, offset, mask), expected, atol=1e-10)


def test_octave_with_no_low_frequencies_is_conv2d():
    torch.manual_seed(0)
    octave = byhand.nn.OctaveConv2d(3, 4, 3, alpha_in=0.0, alpha_out=0.0, padding=1, bias=True)
    plain = torch.nn.Conv2d(3, 4, 3, padding=1)
    plain.load_state_dict(octave.state_dict())
    x = torch.randn(2, 3, 6, 6)
    assert torch.allclose(octave(x), plain(x), atol=1e-6)


def test_octave_chains_through_a_tuple():
    torch.manual_seed(0)
    first = byhand.nn.OctaveConv2d(3, 8, 3, alpha_in=0.0, padding=1)
    middle = byhand.nn.OctaveConv2d(8, 8, 3, padding=1)
    last = byhand.nn.OctaveConv2d(8, 5, 3, alpha_out=0.0, padding=1)
    high, low = first(torch.randn(2, 3, 8, 8))
    assert high.shape == (2, 4, 8, 8) and low.shape == (2, 4, 4, 4)
    assert last(middle((high, low))).shape == (2, 5, 8, 8)


def test_transposed_conv_is_the_input_gradient_of_a_conv():
    x = torch.randn(2, 4, 9, 8, dtype=F64, requires_grad=True)
    w = torch.randn(6, 2, 3, 2, dtype=F64)
    y = TF.conv2d(x, w, None, stride=2, padding=1, dilation=(1, 2), groups=2)
    g = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, g)
    out = F.conv_transpose2d(g, w, None, 2, 1, output_padding=(0, 1), groups=2, dilation=(1, 2))
    assert out.shape == x.shape
    assert torch.allclose(out, grad, atol=1e-12)


def test_three_conv2d_implementations_agree():
    x = torch.randn(2, 4, 6, 7, dtype=F64)
    w = torch.randn(6, 2, 3, 2, dtype=F64)
    b = torch.randn(6, dtype=F64)
    args = (b, (2, 1), 1, (1, 2), 2)
    fast = F.conv2d(x, w, *args)
    assert torch.allclose(F.conv2d_im2col(x, w, *args), fast, atol=1e-12)
    assert torch.allclose(F.conv2d_loop(x, w, *args), fast, atol=1e-12)
    assert torch.allclose(fast, TF.conv2d(x, w, *args), atol=1e-12)


def test_im2col_matches_unfold():
    x = torch.randn(2, 3, 7, 6, dtype=F64)
    ours = F.im2col(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    theirs = TF.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    assert torch.equal(ours, theirs)


# --- drop-in edges ----------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["channels_last", "sliced", "transposed"])
def test_conv2d_non_contiguous_inputs_and_output_layout(layout):
    ours, theirs = _twins(byhand.nn.Conv2d, torch.nn.Conv2d, 4, 5, 3, padding=1)
    x = torch.randn(2, 4, 9, 12, dtype=F64)
    x = {
        "channels_last": x.to(memory_format=torch.channels_last),
        "sliced": x[:, :, ::2, 1::2],
        "transposed": x.transpose(2, 3),
    }[layout]
    (y, gx), (y_ref, gx_ref) = _run_both(ours, theirs, x)
    assert torch.allclose(y, y_ref, atol=1e-12) and torch.allclose(gx, gx_ref, atol=1e-12)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-12)
    cl = torch.channels_last
    assert y.is_contiguous(memory_format=cl) == y_ref.is_contiguous(memory_format=cl)


def test_empty_batch_and_nan():
    ours, theirs = _twins(byhand.nn.Conv2d, torch.nn.Conv2d, 3, 4, 3, padding=1)
    (y, gx), (y_ref, _) = _run_both(ours, theirs, torch.randn(0, 3, 5, 5, dtype=F64))
    assert y.shape == y_ref.shape == (0, 4, 5, 5) and gx.shape == (0, 3, 5, 5)
    assert torch.equal(ours.weight.grad, torch.zeros_like(ours.weight))
    x = torch.randn(1, 3, 6, 6, dtype=F64)
    x[0, 1, 2, 3], x[0, 2, 5, 5] = float("nan"), float("inf")
    with torch.no_grad():
        y, y_ref = ours(x), theirs(x)
    assert torch.equal(y.isnan(), y_ref.isnan()) and torch.equal(y.isinf(), y_ref.isinf())
    # every output channel: the 3×3 positions that see the NaN, the 2×2 (at the edge) the inf
    assert int(y.isnan().sum()) == 4 * 9 and int(y.isinf().sum()) == 4 * 4


def test_depthwise_separable_parameter_count():
    separable = byhand.nn.DepthwiseSeparableConv2d(64, 128, 3, bias=False)
    full = byhand.nn.Conv2d(64, 128, 3, bias=False)
    count = sum(p.numel() for p in separable.parameters())
    assert count == 64 * 9 + 64 * 128 == 8768
    assert sum(p.numel() for p in full.parameters()) == 64 * 128 * 9 == 73728


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_conv2d_on_cuda_matches_cudnn():
    ours, theirs = _twins(byhand.nn.Conv2d, torch.nn.Conv2d, 4, 6, 3, stride=2, padding=1)
    ours, theirs = ours.cuda(), theirs.cuda()
    x = torch.randn(2, 4, 9, 8, dtype=F64, device="cuda")
    (y, gx), (y_ref, gx_ref) = _run_both(ours, theirs, x)
    assert torch.allclose(y, y_ref, atol=1e-10) and torch.allclose(gx, gx_ref, atol=1e-10)


# --- the fast conv's paths: blocks of rows, windows copied once, depthwise planes -------------
@pytest.mark.parametrize(
    "channels, out, kernel, stride, padding, dilation, groups",
    [
        (4, 6, 3, 1, 1, 1, 1),  # shifted rows, in several blocks
        (4, 6, 3, 1, 2, 2, 2),  # dilated, grouped
        (6, 6, 3, 1, 1, 1, 6),  # depthwise: multiply-adds on planes
        (4, 8, 3, 1, 1, 1, 4),  # depthwise with a channel multiplier
        (3, 5, 3, 2, 1, 1, 1),  # strided: windows copied once (im2col), kept for ∂w
        (4, 6, 3, 2, 2, 2, 1),  # strided and dilated: col2im of overlapping taps
        (4, 6, 1, 2, 0, 1, 1),  # a 1×1 projection with a stride
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("compiling", [False, True], ids=["eager", "compile-path"])
def test_fast_conv_paths_match_pytorch(
    monkeypatch,
    channels,
    out,
    kernel,
    stride,
    padding,
    dilation,
    groups,
    channels_last,
    compiling,
):
    """``compile-path``: the branches taken under ``torch.compile`` (im2col for every ungrouped
    conv, col2im as a sum of placed taps), run eagerly."""
    conv = importlib.import_module("byhand.nn.functional.conv")
    monkeypatch.setattr(conv, "_block_rows", lambda x, out_channels: 37)  # many blocks
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: compiling)
    torch.manual_seed(0)
    x = torch.randn(2, channels, 9, 11, dtype=F64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(out, channels // groups, kernel, kernel, dtype=F64)
    b = torch.randn(out, dtype=F64)
    results = []
    for fn in (F.conv2d, TF.conv2d):
        inputs = [t.detach().clone().requires_grad_(True) for t in (x, w, b)]
        y = fn(*inputs, stride, padding, dilation, groups)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=F64).view_as(y))
        results.append((y, *(t.grad for t in inputs)))
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-11)
    assert results[0][0].is_contiguous(memory_format=torch.channels_last) == channels_last
