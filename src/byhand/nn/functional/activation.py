"""Activations: element-wise ones with derivatives written by hand, and the softmax family.

Each element-wise activation ``f`` is three small functions:

* ``f_formula(input, ...)``: the forward formula from elementary tensor operations; autograd can
  differentiate it (the tests check the hand-written derivative against that);
* ``f_derivative(input, output=None, ...)``: ``f'(x)`` written out, from the output where
  that is cheaper (``σ' = σ(1 - σ)``);
* ``f(input, ..., inplace=False)``: what modules call. It runs the formula inside
  :class:`Elementwise`, a ``torch.autograd.Function`` whose backward is ``grad · f'(x)``: one
  multiplication instead of autograd replaying every step of the formula backwards.
"""

import math
import warnings

import torch

__all__ = [
    "Elementwise",
    "elementwise",
    "times",
    "minus_abs",
    "step",
    "inside",
    "relu",
    "relu_formula",
    "relu_derivative",
    "hardtanh",
    "hardtanh_formula",
    "hardtanh_derivative",
    "relu6",
    "leaky_relu",
    "leaky_relu_formula",
    "leaky_relu_derivative",
    "prelu",
    "elu",
    "elu_formula",
    "elu_derivative",
    "selu",
    "selu_formula",
    "selu_derivative",
    "SELU_ALPHA",
    "SELU_SCALE",
    "celu",
    "celu_formula",
    "celu_derivative",
    "sigmoid",
    "sigmoid_formula",
    "sigmoid_derivative",
    "tanh",
    "tanh_formula",
    "tanh_derivative",
    "softplus",
    "softplus_formula",
    "softplus_derivative",
    "gelu",
    "gelu_formula",
    "gelu_derivative",
    "silu",
    "silu_formula",
    "silu_derivative",
    "mish",
    "mish_formula",
    "mish_derivative",
    "hardswish",
    "hardswish_formula",
    "hardswish_derivative",
    "hardsigmoid",
    "hardsigmoid_formula",
    "hardsigmoid_derivative",
    "softsign",
    "softsign_formula",
    "softsign_derivative",
    "logsigmoid",
    "logsigmoid_formula",
    "logsigmoid_derivative",
    "log_softmax",
    "log_softmax_formula",
    "softmax",
    "softmin",
]


# --8<-- [start:elementwise]
class Elementwise(torch.autograd.Function):
    """``y = formula(x)`` whose backward is ``grad · derivative(x, y)``, written by hand.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """

    @staticmethod
    def forward(ctx, input, formula, derivative, options):
        output = formula(input, **options)
        ctx.save_for_backward(input, output)
        ctx.derivative, ctx.options = derivative, options
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        slope = ctx.derivative(input, output, **ctx.options)
        return times(slope, grad_output), None, None, None


def times(slope, grad):
    """``grad · slope``, written into ``slope`` (a fresh tensor nobody keeps): no new tensor.

    Under ``create_graph`` (a double backward) autograd records the product, and an
    out-of-place product leaves ``slope`` intact for it.
    """
    return grad * slope if torch.is_grad_enabled() else slope.mul_(grad)


def elementwise(input, formula, derivative, inplace=False, **options):
    """Apply an element-wise activation; ``inplace=True`` writes the result into ``input``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    if not inplace:
        return Elementwise.apply(input, formula, derivative, options)
    # The backward needs x after ``input`` is overwritten: run on a copy, then write the result.
    source = input.clone() if torch.is_grad_enabled() and input.requires_grad else input
    return input.copy_(Elementwise.apply(source, formula, derivative, options))


# --8<-- [end:elementwise]


# --8<-- [start:minus_abs]
def minus_abs(input):
    """``-|x| = x - 2 max(x, 0)``, with slope ``-1`` at ``x = 0`` as on the rest of ``x ≥ 0``.

    ``-x.abs()`` has the same values, but autograd gives ``abs`` slope 0 at 0, which would zero
    the gradient of every formula below at exactly the point where it is largest.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    x = input
    return x - 2 * torch.clamp(x, min=0)


# --8<-- [end:minus_abs]


# --8<-- [start:step]
def step(input, at=0.0):
    """The step ``1[x > at]`` as 0./1. in the input's dtype (0 at NaN), in one pass.

    The comparison writes straight into a fresh floating tensor: a bool mask then converted,
    multiplied or given to ``torch.where`` costs several passes on the CPU, and the
    derivatives below are mostly made of steps.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    return torch.gt(input, at, out=torch.empty_like(input))


def inside(input, low, high):
    """``1[low < x < high]`` as 0./1. (0 on both ends and at NaN): ``(x - low)(high - x) > 0``,
    or ``|x| < high`` in fewer passes when the interval is symmetric.

    Exact: ``x - low`` is 0 only at ``x = low``, and ``high - x`` only at ``high``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    if low == -high:
        return torch.abs(input).lt_(high)
    return (input - low).mul_(high - input).gt_(0)


# --8<-- [end:step]


def expect_floating(name, input, error=NotImplementedError):
    """Refuse an integer or bool ``input`` as PyTorch's kernel for ``name`` does (same class).

    PyTorch has no integer kernel for most activations; without this check the formulas
    below would quietly promote an integer tensor to a floating one.
    """
    if not (input.is_floating_point() or input.is_complex()):
        raise error(f"{name} expects a floating-point input, got {input.dtype}")


def floating(input):
    """``input`` as a floating tensor: integers and bools become the default dtype, as
    ``torch.sigmoid`` and ``torch.tanh`` promote them."""
    if input.is_floating_point() or input.is_complex():
        return input
    return input.to(torch.get_default_dtype())


# --8<-- [start:relu]
def relu_formula(input):
    """``max(x, 0)``; NaN stays NaN, as in PyTorch."""
    return torch.clamp(input, min=0)


def relu_derivative(input, output=None):
    """``1`` where ``x > 0``, else ``0`` (also at the kink ``x = 0``, as PyTorch does); at a NaN
    input the gradient passes through (``1``), as PyTorch's ``y <= 0 ? 0 : g``."""
    y = relu_formula(input) if output is None else output
    return torch.ne(y, 0, out=torch.empty_like(y))  # y is 0, positive or NaN; one pass


def relu(input, inplace=False):
    """``max(0, x)``, element-wise: ``input`` of any shape ``(*)``, output the same shape."""
    if input.dtype == torch.bool:
        raise RuntimeError("relu expects a numeric input, got torch.bool")
    if not input.is_floating_point():  # integers: max(x, 0), nothing to differentiate
        return input.clamp_(min=0) if inplace else input.clamp(min=0)
    return elementwise(input, relu_formula, relu_derivative, inplace)


# --8<-- [end:relu]


# --8<-- [start:hardtanh]
def hardtanh_formula(input, min_val=-1.0, max_val=1.0):
    """``x`` clipped to ``[min_val, max_val]``."""
    return torch.clamp(input, min=min_val, max=max_val)


def hardtanh_derivative(input, output=None, min_val=-1.0, max_val=1.0):
    """``1`` strictly inside ``(min_val, max_val)``, ``0`` outside, on both kinks and at NaN:
    the clipped output ``y`` sits exactly on a bound wherever ``x`` was clipped."""
    y = hardtanh_formula(input, min_val, max_val) if output is None else output
    return inside(y, min_val, max_val)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``x`` clipped to ``[min_val, max_val]``, element-wise on ``(*)``; same shape out."""
    if min_val > max_val:
        raise ValueError(f"hardtanh expects min_val <= max_val, got {min_val} > {max_val}")
    if input.dtype == torch.bool:
        raise RuntimeError("hardtanh expects a numeric input, got torch.bool")
    if not input.is_floating_point():  # integers keep their dtype: the bounds are truncated
        if input.dtype == torch.uint8 and min_val < 0:
            raise RuntimeError(f"hardtanh on uint8 expects min_val >= 0, got {min_val}")
        low, high = int(min_val), int(max_val)
        return input.clamp_(low, high) if inplace else input.clamp(low, high)
    options = dict(min_val=min_val, max_val=max_val)
    return elementwise(input, hardtanh_formula, hardtanh_derivative, inplace, **options)


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``: ``hardtanh`` on ``[0, 6]`` (its slope at 0 and at 6 is 0).

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    return hardtanh(input, 0.0, 6.0, inplace)


# --8<-- [end:hardtanh]


# --8<-- [start:leaky_relu]
def leaky_relu_formula(input, negative_slope=0.01):
    """``x`` for ``x > 0``, else ``negative_slope · x``: ``max(x, 0) + slope · min(x, 0)``
    (one of the two terms is 0: no ``0 · inf``). The slope may be a tensor (PReLU's)."""
    return torch.clamp(input, max=0).mul_(negative_slope).add_(torch.clamp(input, min=0))


def leaky_relu_derivative(input, output=None, negative_slope=0.01):
    """``1`` for ``x > 0``, else ``negative_slope`` (also at ``x = 0`` and at NaN, as PyTorch):
    ``slope + (1 - slope) · 1[x > 0]``."""
    return step(input).mul_(1 - negative_slope).add_(negative_slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` if ``x > 0`` else ``negative_slope · x``, element-wise on ``(*)``."""
    expect_floating("leaky_relu", input)
    options = dict(negative_slope=negative_slope)
    return elementwise(input, leaky_relu_formula, leaky_relu_derivative, inplace, **options)


# --8<-- [end:leaky_relu]


# --8<-- [start:prelu]
class PReLU(torch.autograd.Function):
    """Leaky ReLU whose slope ``w`` is a tensor broadcast over ``x``; backward by hand:
    ``dx = g · (1 if x > 0 else w)`` (``w`` at 0 and at NaN, as PyTorch) and
    ``dw = Σ g · min(x, 0)`` over the positions that share a slope — ``min(x, 0)``, not ``x``,
    so an infinite positive ``x`` adds 0 to the slope's gradient, not ``0 · inf``.
    """

    @staticmethod
    def forward(ctx, input, weight):
        ctx.save_for_backward(input, weight)
        return leaky_relu_formula(input, weight)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = times(leaky_relu_derivative(input, None, weight), grad_output)
        if ctx.needs_input_grad[1]:
            grad_weight = times(torch.clamp(input, max=0), grad_output)
            grad_weight = grad_weight.sum_to_size(weight.shape)
        return grad_input, grad_weight


def prelu(input, weight):
    """Leaky ReLU with a learned slope: one ``weight`` for all channels or one per channel.

    ``input`` is ``(N, C, *)`` (or ``(C,)``, or a scalar); ``weight`` is ``(1,)`` or ``(C,)``;
    :class:`PReLU` holds the maths, and the slope's gradient.
    """
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"prelu expects input and weight of one dtype, got {input.dtype} and {weight.dtype}"
        )
    if weight.numel() != 1:
        channel_dim = 1 if input.dim() >= 2 else 0
        channels = input.shape[channel_dim] if input.dim() >= 1 else 1
        if input.dim() == 0 or weight.numel() != channels:
            raise RuntimeError(
                f"prelu expects weight of 1 or C={channels} elements for input "
                f"{tuple(input.shape)}, got {weight.numel()}"
            )
        shape = [1] * input.dim()
        shape[channel_dim] = channels
        weight = weight.reshape(shape)
    else:
        weight = weight.reshape(())
    return PReLU.apply(input, weight)


# --8<-- [end:prelu]


# --8<-- [start:elu]
def elu_formula(input, alpha=1.0):
    """``x`` for ``x > 0``, else ``α (e^x - 1)`` (``expm1`` keeps the digits near 0)."""
    return torch.clamp(input, min=0).add_(torch.clamp(input, max=0).expm1_(), alpha=alpha)


def negative_part(input, output):
    """``min(y, 0)`` where ``x < 0``, else 0: the part of ELU's and CELU's slope read off ``y``.

    ``min(y, 0)`` keeps ``y = +inf`` out of the product, and ``y`` enters only where ``x < 0``,
    so the second derivative at the kink is 0 (PyTorch's).
    """
    return torch.lt(input, 0, out=torch.empty_like(input)).mul_(torch.clamp(output, max=0))


def elu_derivative(input, output=None, alpha=1.0, scale=1.0):
    """``α e^x = y + α`` for ``x ≤ 0`` (``α`` at ``x = 0``, as PyTorch), else ``1`` (also at
    ``+inf``; NaN at NaN): LeakyReLU's slope with ``α`` below 0, plus ``y`` where ``x < 0``.
    ``scale`` multiplies the function and its slope (SELU's ``λ``)."""
    y = elu_formula(input, alpha) if output is None else output
    # min(y, 0) where x < 0, plus LeakyReLU's slope (α on x ≤ 0, 1 above), scaled
    slope = negative_part(input, y).add_(step(input), alpha=scale * (1 - alpha))
    return slope.add_(scale * alpha)


def elu(input, alpha=1.0, inplace=False):
    """``x`` if ``x > 0`` else ``alpha (eˣ − 1)``, element-wise on ``(*)``; same shape out."""
    expect_floating("elu", input)
    return elementwise(input, elu_formula, elu_derivative, inplace, alpha=alpha)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu_formula(input):
    """``scale · elu(x, α)`` with the two constants that keep activations at mean 0, var 1."""
    return elu_formula(input, SELU_ALPHA).mul_(SELU_SCALE)


def selu_derivative(input, output=None):
    """``scale · elu'(x)``, from ``input`` (or from ``output``), shape ``(*)``."""
    y = selu_formula(input) if output is None else output
    return elu_derivative(input, y, alpha=SELU_ALPHA, scale=SELU_SCALE)


def selu(input, inplace=False):
    """``scale · elu(x, alpha)`` with the fixed SELU constants, element-wise on ``(*)``."""
    expect_floating("selu", input)
    return elementwise(input, selu_formula, selu_derivative, inplace)


def celu_formula(input, alpha=1.0):
    """``x`` for ``x > 0``, else ``α (e^{x/α} - 1)``: ELU with slope 1 at 0 for every ``α``."""
    negative = torch.clamp(input, max=0).div_(alpha).expm1_()
    return torch.clamp(input, min=0).add_(negative, alpha=alpha)


def celu_derivative(input, output=None, alpha=1.0):
    """``e^{x/α} = y/α + 1`` for ``x ≤ 0``, else ``1`` (also at ``+inf``; NaN at NaN)."""
    y = celu_formula(input, alpha) if output is None else output
    return negative_part(input, y).div_(alpha).add_(1)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha (e^{x/alpha} − 1))``, element-wise on ``(*)``."""
    if alpha == 0:
        raise ValueError("celu expects alpha != 0 (it divides by alpha), got 0")
    expect_floating("celu", input)
    return elementwise(input, celu_formula, celu_derivative, inplace, alpha=alpha)


# --8<-- [end:elu]


# --8<-- [start:sigmoid]
def sigmoid_formula(input, scale=1.0):
    """``σ(scale · x) = 1 / (1 + e^{-scale · x})``. For ``x < -709`` (float64) ``e^{-x}`` is
    ``inf`` and ``1/inf`` is the right limit, 0; only autograd's derivative of this formula
    breaks there (``inf/inf``). ``scale`` saves a tensor where ``σ(2x)`` or ``σ(-x)`` is wanted.
    """
    # e^{-x} is kept by autograd (exp's derivative is exp itself): 1 + e^{-x} goes to a new
    # tensor, inverted in place by pow (whose derivative needs its input, not its output).
    exp_minus = torch.mul(input, -scale).exp_()
    return torch.add(exp_minus, 1).pow_(-1)


def sigmoid_derivative(input, output=None):
    """``σ'(x) = σ(x) (1 - σ(x))``, from the output: no ``e^x`` in the backward, no overflow."""
    s = sigmoid_formula(input) if output is None else output
    return torch.rsub(s, 1).mul_(s)


def sigmoid(input):
    """``1 / (1 + e⁻ˣ)``, element-wise: ``input`` of any shape ``(*)``, same shape out."""
    input = floating(input)
    return elementwise(input, sigmoid_formula, sigmoid_derivative)


# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh_formula(input):
    """``tanh(x) = 2σ(2x) - 1``: the textbook ``(e^x - e^{-x}) / (e^x + e^{-x})`` is
    ``inf/inf = nan`` beyond ``|x| ≈ 355`` (float64); this form gives ``±1`` there."""
    return sigmoid_formula(input, 2.0).mul_(2).sub_(1)


def tanh_derivative(input, output=None):
    """``tanh'(x) = 1 - tanh(x)^2``; at most 1, reached at 0."""
    t = tanh_formula(input) if output is None else output
    return torch.mul(t, t).neg_().add_(1)


def tanh(input):
    """``(eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)``, element-wise on ``(*)``; same shape out."""
    input = floating(input)
    return elementwise(input, tanh_formula, tanh_derivative)


# --8<-- [end:tanh]


# --8<-- [start:softplus]
def softplus_formula(input, beta=1.0, threshold=20.0):
    """``log(1 + e^{βx}) / β``, and ``x`` itself where ``βx > threshold`` (as PyTorch).

    ``βx`` is capped at the threshold, so ``e^{βx}`` cannot overflow (0 at ``-inf``); on the
    linear part ``x - smooth`` is added back. Where ``x = ±inf`` off that part the product
    ``0 · inf`` is NaN, not the 0 it stands for: ``nan_to_num_`` sets it to 0 (a NaN input
    stays NaN through ``smooth``). A threshold past ``log(max float)`` (88.7 in float32) would
    make ``smooth`` infinite on the linear part and ``x - smooth`` NaN: there ``βx`` is zeroed
    first (one more pass, only for such thresholds).
    """
    z = torch.mul(input, beta)
    linear = step(z, threshold)  # 1[βx > threshold]
    if threshold >= math.log(torch.finfo(z.dtype).max):  # e^threshold itself overflows:
        z.masked_fill_(linear.bool(), 0.0)  # the linear part's smooth value must stay finite
    smooth = torch.log1p(z.clamp_(max=threshold).exp_()).div_(beta)
    jump = torch.sub(input, smooth).mul_(linear)
    return smooth.add_(jump.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf))


def softplus_derivative(input, output=None, beta=1.0, threshold=20.0):
    """``σ(βx) = 1 / (1 + e^{-βx})``, and exactly ``1`` on the linear part (``βx >
    threshold``), where ``e^{-βx}`` is replaced by 0."""
    minus_z = torch.mul(input, -beta)
    smooth_part = torch.ge(minus_z, -threshold, out=torch.empty_like(minus_z))  # βx ≤ threshold
    return smooth_part.mul_(minus_z.exp_()).add_(1).reciprocal_()


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + e^{beta x}) / beta`` (``x`` above ``threshold``), element-wise on ``(*)``."""
    expect_floating("softplus", input)
    options = dict(beta=beta, threshold=threshold)
    return elementwise(input, softplus_formula, softplus_derivative, **options)


# --8<-- [end:softplus]


# --8<-- [start:gelu]
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def gelu_formula(input, approximate="none"):
    """``x Φ(x)`` with ``Φ`` the standard normal CDF; ``approximate='tanh'`` uses
    ``½x(1 + tanh(√(2/π)(x + 0.044715 x³)))``."""
    x = input
    if approximate == "tanh":
        return tanh_formula(gelu_tanh_inner(x)).add_(1).mul_(x).mul_(0.5)
    return normal_cdf(x).mul_(x)


def normal_cdf(input):
    """``Φ(x) = erfc(-x/√2) / 2 = (1 + erf(x/√2)) / 2``, the standard normal CDF, shape ``(*)``
    (``erfc`` saves the ``1 +`` pass, and keeps the digits of the far left tail)."""
    return torch.mul(input, -1 / math.sqrt(2)).erfc_().mul_(0.5)


def gelu_tanh_inner(input):
    """``√(2/π) (x + 0.044715 x³)``, the argument of GELU's tanh approximation."""
    x = input
    return torch.mul(x, x).mul_(0.044715 * SQRT_2_OVER_PI).add_(SQRT_2_OVER_PI).mul_(x)


def gelu_derivative(input, output=None, approximate="none"):
    """``Φ(x) + x φ(x)``; for the tanh form, the derivative of that formula."""
    x = input
    if approximate == "tanh":
        t = tanh_formula(gelu_tanh_inner(x))
        inner = torch.mul(x, x).mul_(3 * 0.044715 * SQRT_2_OVER_PI).add_(SQRT_2_OVER_PI)
        # ½(1 + t) + ½ x (1 - t²) · inner
        slope = tanh_derivative(x, t).mul_(inner).mul_(x)
        return slope.add_(t).add_(1).mul_(0.5)
    pdf = torch.mul(x, x).mul_(-0.5).exp_()  # φ(x) · √(2π)
    return normal_cdf(x).addcmul_(x, pdf, value=1 / math.sqrt(2 * math.pi))


def gelu(input, approximate="none"):
    """``x Φ(x)`` (or its tanh approximation), element-wise on ``(*)``; same shape out."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu expects approximate 'none' or 'tanh', got {approximate!r}")
    expect_floating("gelu", input)
    return elementwise(input, gelu_formula, gelu_derivative, approximate=approximate)


# --8<-- [end:gelu]


# --8<-- [start:silu]
def silu_formula(input):
    """``x σ(x)`` (SiLU, also called Swish)."""
    return sigmoid_formula(input).mul_(input)


def silu_derivative(input, output=None):
    """``σ(x) (1 + x (1 - σ(x))) = σ (1 - y) + y`` with ``y = x σ(x)`` the output."""
    s = sigmoid_formula(input)
    y = silu_formula(input) if output is None else output
    return s.lerp_(s.new_ones(()), y)  # σ + y (1 - σ)


def silu(input, inplace=False):
    """``x · sigmoid(x)``, element-wise: ``input`` of any shape ``(*)``, same shape out."""
    expect_floating("silu", input)
    return elementwise(input, silu_formula, silu_derivative, inplace)


def mish_formula(input):
    """``x tanh(softplus(x))``."""
    return tanh_formula(softplus_formula(input)).mul_(input)


def mish_derivative(input, output=None):
    """``tanh(sp) + x σ(x) (1 - tanh(sp)^2)`` with ``sp = softplus(x)``, since ``sp' = σ``."""
    t = tanh_formula(softplus_formula(input))
    slope = tanh_derivative(input, t).mul_(sigmoid_formula(input)).mul_(input)
    return slope.add_(t)


def mish(input, inplace=False):
    """``x · tanh(softplus(x))``, element-wise on ``(*)``; same shape out."""
    expect_floating("mish", input)
    return elementwise(input, mish_formula, mish_derivative, inplace)


# --8<-- [end:silu]


# --8<-- [start:hardswish]
def hardsigmoid_formula(input):
    """``relu6(x + 3) / 6 = (hardtanh(x, -3, 3) + 3) / 6``: 0 below -3, 1 above 3, a straight
    line between."""
    return hardtanh_formula(input, -3.0, 3.0).add_(3).div_(6)


# PyTorch's backward multiplies by 1/6 rounded to float32, in float64 too: we match it.
HARDSIGMOID_SLOPE = 0.1666666716337204  # float(torch.tensor(1 / 6, dtype=torch.float32))


def hardsigmoid_derivative(input, output=None):
    """``1/6`` strictly inside ``(-3, 3)``, else ``0`` (also at NaN)."""
    return inside(input, -3.0, 3.0).mul_(HARDSIGMOID_SLOPE)


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``, element-wise on ``(*)``; same shape out."""
    expect_floating("hardsigmoid", input)
    return elementwise(input, hardsigmoid_formula, hardsigmoid_derivative, inplace)


def hardswish_formula(input):
    """``x · hardsigmoid(x)``: a piecewise-quadratic SiLU."""
    return hardsigmoid_formula(input).mul_(input)


def hardswish_derivative(input, output=None):
    """The product rule, ``hardsigmoid(x) + x · hardsigmoid'(x)``: ``0`` up to -3,
    ``x/3 + 1/2`` strictly between, ``1`` from 3 on and at ``+inf`` (PyTorch's values at the
    kinks); NaN at NaN."""
    # c = x clipped to [-3, 3] (finite: no 0 · inf), by hardtanh, whose slope is 0 at ±3 (the
    # second derivative there is 0, PyTorch's). With b = 1[|x| < 3] the slope is
    # (c (1 + b) + 3) / 6: (2c + 3)/6 = c/3 + 1/2 between, 0 at c = -3, 1 at c = 3.
    c = hardtanh(input, -3.0, 3.0)
    between = inside(c, -3.0, 3.0)
    return between.add_(1).mul_(c).add_(3).div_(6)


def hardswish(input, inplace=False):
    """``x · relu6(x + 3) / 6``, element-wise on ``(*)``; same shape out."""
    expect_floating("hardswish", input)
    return elementwise(input, hardswish_formula, hardswish_derivative, inplace)


# --8<-- [end:hardswish]


# --8<-- [start:softsign]
def softsign_formula(input):
    """``x / (1 + |x|)``."""
    return input / (1 + input.abs())


def softsign_derivative(input, output=None):
    """``1 / (1 + |x|)^2``."""
    d = 1 + input.abs()
    return 1 / (d * d)


def softsign(input):
    """``x / (1 + |x|)``, element-wise on ``(*)``; same shape out."""
    return elementwise(input, softsign_formula, softsign_derivative)


def logsigmoid_formula(input):
    """``log σ(x) = min(x, 0) - log(1 + e^{-|x|})``: 0 at ``+inf``, ``-inf`` at ``-inf``.

    ``min(x, 0)`` is ``torch.minimum``, which splits the gradient at the tie ``x = 0``:
    autograd's slope there is ½ - 0 (``abs`` has slope 0 at 0), the right one.
    """
    x = input
    exp_minus_abs = torch.abs(x).neg_().exp_()
    return torch.minimum(x, x.new_zeros(())).sub_(torch.log1p(exp_minus_abs))


def logsigmoid_derivative(input, output=None):
    """``1 - σ(x) = σ(-x)``."""
    return sigmoid_formula(input, -1.0)


def logsigmoid(input):
    """``log sigmoid(x) = −softplus(−x)``, element-wise on ``(*)``; same shape out."""
    expect_floating("log_sigmoid", input)
    # PyTorch's kernel returns a contiguous tensor whatever the input's layout: so do we.
    return elementwise(input, logsigmoid_formula, logsigmoid_derivative).contiguous()


# --8<-- [end:softsign]


# --8<-- [start:log_softmax]
def _softmax_dim(ndim):
    """PyTorch's implicit ``dim`` when none is given (a legacy rule): 0 for 0-, 1- and 3-D."""
    warnings.warn(
        "Implicit dimension choice for softmax has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


# --8<-- [start:core_log_softmax]
def log_softmax_formula(input, dim):
    """``x - max - log Σ e^{x - max}``: the largest ``e^x`` is ``e^0 = 1``, none overflows."""
    if (
        input.dim() and input.shape[dim] == 0
    ):  # nothing to normalise over (e.g. attention with no keys)
        return input.clone()
    shifted = input - input.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


class LogSoftmax(torch.autograd.Function):
    """``y = x - log Σ e^x`` along ``dim``; backward ``g - softmax(x) · Σ g``."""

    @staticmethod
    def forward(ctx, input, dim):
        output = log_softmax_formula(input, dim)
        ctx.save_for_backward(output)
        ctx.dim = dim
        return output

    @staticmethod
    def backward(ctx, grad_output):
        (output,) = ctx.saved_tensors
        total = grad_output.sum(dim=ctx.dim, keepdim=True)
        return grad_output - torch.exp(output) * total, None


# --8<-- [end:core_log_softmax]


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``x_i - log Σ_j e^{x_j}``, shifted by the maximum so no ``e^x`` overflows.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """
    if dtype is not None:
        input = input.to(dtype)
    expect_floating("log_softmax", input)
    if dim is None:
        dim = _softmax_dim(input.dim())
    return LogSoftmax.apply(input, dim)


class Softmax(torch.autograd.Function):
    """``s = e^x / Σ e^x`` along ``dim``; backward ``s · (g - Σ g s)``."""

    @staticmethod
    def forward(ctx, input, dim):
        output = torch.exp(log_softmax_formula(input, dim))
        ctx.save_for_backward(output)
        ctx.dim = dim
        return output

    @staticmethod
    def backward(ctx, grad_output):
        (output,) = ctx.saved_tensors
        return output * (grad_output - (grad_output * output).sum(ctx.dim, keepdim=True)), None


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``e^{x_i} / Σ_j e^{x_j}``, from the same shifted logarithm as :func:`log_softmax`.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """
    if dtype is not None:
        input = input.to(dtype)
    expect_floating("softmax", input)
    if dim is None:
        dim = _softmax_dim(input.dim())
    return Softmax.apply(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)``: the smallest entry gets the largest weight.

    Shapes: ``input`` ``(*)``, normalised along ``dim``; the output has the same shape.
    """
    if dtype is not None:
        input = input.to(dtype)
    expect_floating("softmin", input)
    if dim is None:
        dim = _softmax_dim(input.dim())
    return softmax(-input, dim)


# --8<-- [end:log_softmax]
