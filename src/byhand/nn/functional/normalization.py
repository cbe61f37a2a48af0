"""Normalisation: batch, layer, group, instance and RMS norm.

Every one of them standardises ``x̂ = (x − μ) / √(σ² + ε)`` over some axes and then scales and
shifts per feature; they differ only in the axes the statistics are taken over. Batch norm's
backward is written out once in closed form (``BatchNormTrain``); the others let autograd
differentiate ``standardize``.
"""

import math

import torch
from torch.autograd.function import once_differentiable

from byhand.nn.functional.activation import expect_floating
from byhand.nn.functional.layout import like_input

__all__ = [
    "BatchNormTrain",
    "StandardizeRows",
    "batch_norm",
    "check_parameters",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "rms_norm",
    "standardize_rows",
]


def check_parameters(name, input, *tensors):
    """Refuse an integer input (NotImplementedError) and parameters of another floating dtype
    than the input's (RuntimeError), as PyTorch's kernels do; float32 parameters may scale a
    half or bfloat16 input (mixed precision)."""
    expect_floating(name, input)
    low = input.dtype in (torch.float16, torch.bfloat16)
    for t in tensors:
        if t is not None and t.dtype != input.dtype and not (low and t.dtype == torch.float32):
            raise RuntimeError(
                f"{name} expects parameters of the input's dtype {input.dtype}, got {t.dtype}"
            )


def _channel_view(vector, ndim):
    """A per-channel vector ``(C,)`` as ``(1, C, 1, ...)``."""
    return vector.view(1, -1, *([1] * (ndim - 2)))


# --8<-- [start:standardize]
# A block of rows holds about this many values (512 KiB of float32): its few passes run in a
# core's cache, where passes over the whole tensor would each stream it through memory.
BLOCK_VALUES = 2**17


def row_blocks(input):
    """Slices of ``(B, D)``'s rows, about ``BLOCK_VALUES`` values each, when one CPU thread runs
    the operations. Otherwise one slice: on a GPU, or with several threads, each operation
    spreads over the whole tensor, and small blocks would make every operation wait for its
    threads to meet (badly so on a busy machine); under ``torch.compile``, which fuses the
    passes itself."""
    rows, width = input.shape
    one = torch.compiler.is_compiling() or input.device.type != "cpu"
    if one or torch.get_num_threads() > 1:
        return [slice(0, rows)]
    step = max(1, BLOCK_VALUES // width)
    return [slice(start, start + step) for start in range(0, rows, step)]


class StandardizeRows(torch.autograd.Function):
    """``y = x̂ · γ + β`` for each row of ``(B, D)``: ``x̂ = (x − μ) · r``, ``r = 1/√(σ² + ε)``,
    with ``μ`` and the biased ``σ²`` of the row; ``γ``, ``β`` of shape ``(D,)`` or ``None``.

    Backward in closed form, with ``ĝ = g · γ`` and means along the row:
    ``dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂))``, ``dγ = Σ_rows g x̂``, ``dβ = Σ_rows g``.
    Like PyTorch's kernel it saves the input, ``μ`` and ``r`` (no ``x̂``: one large tensor made
    per pass, the output or ``dx``), and works block of rows by block of rows (``row_blocks``).
    The row sums with ``γ`` and the column sum with ``r`` are matrix-vector products.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, eps):
        output = torch.empty_like(input)
        mean = input.new_empty(input.shape[0], 1)
        inv_std = torch.empty_like(mean)
        for rows in row_blocks(input):
            x, y, r = input[rows], output[rows], inv_std[rows]
            y = torch.sub(x, torch.mean(x, 1, keepdim=True, out=mean[rows]), out=y)  # x − μ
            # σ² = ‖x − μ‖² / D: a norm reads the row once and makes no temporary
            var = torch.linalg.vector_norm(y, dim=1, keepdim=True).square_() / x.shape[1]
            y.mul_(torch.rsqrt(var + eps, out=r))  # x̂
            if weight is not None and bias is not None:
                torch.addcmul(bias, y, weight, out=y)
            elif weight is not None:
                y.mul_(weight)
            elif bias is not None:
                y.add_(bias)
        ctx.save_for_backward(input, mean, inv_std, weight)
        return output

    # --8<-- [start:core_standardize]
    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, mean, inv_std, weight = ctx.saved_tensors
        if weight is not None:  # float32 parameters of a half input: the input's dtype here
            weight = weight.to(input.dtype)
        grad_output = grad_output.contiguous()  # e.g. the expanded gradient of a .sum()
        grad_input = torch.empty_like(input)
        grad_weight = input.new_zeros(input.shape[1]) if ctx.needs_input_grad[1] else None
        grad_bias = input.new_zeros(input.shape[1]) if ctx.needs_input_grad[2] else None
        for rows in row_blocks(input):
            x, g, r, dx = input[rows], grad_output[rows], inv_std[rows], grad_input[rows]
            g_centered = torch.sub(x, mean[rows], out=dx).mul_(g)  # g (x − μ) = g x̂ / r
            if grad_weight is not None:
                grad_weight.addmv_(g_centered.t(), r.view(-1))  # Σ_rows g x̂
            if grad_bias is not None:
                grad_bias.add_(g.sum(0))
            if weight is None:
                mean_g, mean_g_xhat = g.mean(1, keepdim=True), g_centered.mean(1, keepdim=True)
            else:
                mean_g = (g @ weight).unsqueeze(1) / x.shape[1]
                mean_g_xhat = (g_centered @ weight).unsqueeze(1) / x.shape[1]
            mean_g_xhat.mul_(r)
            # r · (− x̂ · mean(ĝ x̂) − mean(ĝ) + ĝ), written over g (x − μ), no longer needed
            torch.sub(x, mean[rows], out=dx).mul_(-r * mean_g_xhat).sub_(mean_g)
            if weight is None:
                dx.add_(g).mul_(r)
            else:
                dx.addcmul_(g, weight).mul_(r)
        return grad_input, grad_weight, grad_bias, None

    # --8<-- [end:core_standardize]


def standardize_rows(input, weight=None, bias=None, eps=1e-5):
    """Standardise each row of ``(B, D)``, then ``· weight + bias`` (``StandardizeRows``)."""
    if input.numel() == 0:
        output = input.clone()
        output = output if weight is None else output * weight
        return output if bias is None else output + bias
    return StandardizeRows.apply(input.contiguous(), weight, bias, eps)


# --8<-- [end:standardize]


# --8<-- [start:batch_norm_train]
class BatchNormTrain(torch.autograd.Function):
    """Batch norm of ``(N, C, *)`` with the batch's own statistics; a closed-form backward.

    Forward: ``y = γ · (x − μ_c) / √(σ²_c + ε) + β`` with ``μ_c``, ``σ²_c`` (biased) over every
    axis but ``C``; also returns ``μ_c`` and ``σ²_c`` (not differentiable) for running stats.
    Backward, with ``M`` values per channel, ``x̂`` the standardised input and
    ``r = 1/√(σ²+ε)``: ``dx = γ r / M · (M g − Σg − x̂ Σ(g x̂))``, ``dγ = Σ(g x̂)``,
    ``dβ = Σg``.

    Few passes over memory: the statistics are plain sums over the other axes
    (``torch.var_mean`` over them is several times slower on CPU), ``x − μ`` is made once,
    saved for the backward, and every other large tensor is worked on in place.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, eps):
        dims = [0, *range(2, input.dim())]
        count = input.numel() // input.shape[1]  # M: values per channel
        mean = input.mean(dims)
        centered = input - _channel_view(mean, input.dim())  # x − μ = x̂ / r
        # σ² from x − μ (no cancellation): a norm per (sample, channel) reads each row once
        # and makes no temporary (a view, unless the layout is permuted); the squares of those
        # norms add up over the batch
        rows = centered.reshape(input.shape[0], input.shape[1], -1)
        var = torch.linalg.vector_norm(rows, dim=2).square_().sum(0) / count
        inv_std = torch.rsqrt(var + eps)
        scale = inv_std if weight is None else inv_std * weight
        output = centered * _channel_view(scale, input.dim())  # y = (x − μ) · γr + β
        if bias is not None:
            output.add_(_channel_view(bias, input.dim()))
        ctx.save_for_backward(centered, weight, inv_std)
        ctx.mark_non_differentiable(mean, var)
        return output, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, _grad_mean, _grad_var):
        centered, weight, inv_std = ctx.saved_tensors
        dims = [0, *range(2, centered.dim())]
        count = centered.numel() // centered.shape[1]  # M: values per channel
        sum_g = grad_output.sum(dims)  # Σ g
        grad_input = grad_output * centered
        sum_g_xhat = grad_input.sum(dims) * inv_std  # Σ g·x̂
        gamma_r = inv_std if weight is None else weight * inv_std  # γ r
        # dx = γr·g − γr/M·Σg − γr²/M·Σ(g x̂)·(x − μ), written over g·(x − μ)
        a = _channel_view(gamma_r, centered.dim())
        b = _channel_view(-gamma_r * inv_std * sum_g_xhat / count, centered.dim())
        c = _channel_view(-gamma_r * sum_g / count, centered.dim())
        torch.mul(centered, b, out=grad_input).addcmul_(grad_output, a).add_(c)
        grad_weight = sum_g_xhat if weight is not None and ctx.needs_input_grad[1] else None
        grad_bias = sum_g if ctx.needs_input_grad[2] else None
        return grad_input, grad_weight, grad_bias, None


# --8<-- [end:batch_norm_train]


# --8<-- [start:batch_norm]
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Batch norm of ``(N, C, *)`` per channel ``C``.

    ``training=True``: normalise with the batch's mean and **biased** variance and, if running
    buffers are given, move them towards the batch's mean and **unbiased** variance in place:
    ``running ← (1 − momentum) · running + momentum · batch``. ``training=False``: normalise
    with the running buffers, ``y = γ (x − running_mean) / √(running_var + ε) + β``.
    """
    ndim = input.dim()
    check_parameters("batch_norm", input, weight, bias)
    if input.dim() < 2 or input.shape[1] == 0:
        raise IndexError(f"batch_norm expects (N, C, *) with C >= 1, got {tuple(input.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(
            "batch_norm with training=False normalises with running_mean and running_var; "
            "got None (pass training=True to use the batch's statistics)"
        )
    if training:
        count = input.numel() // input.shape[1] if input.shape[1] else 0
        if count == 1:
            raise ValueError(
                "batch_norm in training needs more than 1 value per channel for a variance, "
                f"got input of shape {tuple(input.shape)} (N·H·W = 1 per channel)"
            )
        if input.numel() == 0:  # an empty batch: nothing to normalise, the buffers stay
            return _affine(input, weight, bias)
        output, mean, var = BatchNormTrain.apply(input, weight, bias, eps)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.lerp_(mean.to(running_mean.dtype), momentum)
                unbiased = var * (count / (count - 1))  # Bessel's correction
                running_var.lerp_(unbiased.to(running_var.dtype), momentum)
        return output
    inv_std = torch.rsqrt(running_var + eps)
    scale = inv_std if weight is None else inv_std * weight
    shift = -running_mean * scale if bias is None else bias - running_mean * scale
    return input * _channel_view(scale, ndim) + _channel_view(shift, ndim)


# --8<-- [end:batch_norm]


def _affine(input, weight, bias):
    """``x · γ + β`` with per-channel ``γ``, ``β`` (either may be ``None``)."""
    if weight is not None:
        input = input * _channel_view(weight, input.dim())
    if bias is not None:
        input = input + _channel_view(bias, input.dim())
    return input


# --8<-- [start:layer_norm]
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardise ``input`` over its trailing ``normalized_shape`` axes, then ``x̂ · γ + β``.

    ``γ`` and ``β`` have shape ``normalized_shape``: one scale per normalised element.

    Shapes: ``input`` ``(*, *normalized_shape)``; the output has the same shape.
    """
    normalized_shape = tuple(normalized_shape)
    check_parameters("layer_norm", input, weight, bias)
    if tuple(input.shape[input.dim() - len(normalized_shape) :]) != normalized_shape:
        raise RuntimeError(
            f"layer_norm expects input of shape (*, {', '.join(map(str, normalized_shape))}), "
            f"got {tuple(input.shape)}"
        )
    width = math.prod(normalized_shape)
    rows = input.reshape(-1, width)
    flat_weight = None if weight is None else weight.reshape(width)
    flat_bias = None if bias is None else bias.reshape(width)
    return standardize_rows(rows, flat_weight, flat_bias, eps).view(input.shape)


# --8<-- [end:layer_norm]


# --8<-- [start:group_norm]
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group norm of ``(N, C, *)``: split ``C`` into ``num_groups`` groups of ``C / G`` channels
    and standardise each sample's group over its channels and all spatial positions; then a
    per-channel ``γ``, ``β``.
    """
    check_parameters("group_norm", input, weight, bias)
    if input.dim() < 2 or input.shape[1] % num_groups != 0:
        raise RuntimeError(
            f"group_norm expects (N, C, *) with C divisible by num_groups={num_groups}, "
            f"got {tuple(input.shape)}"
        )
    width = math.prod(input.shape[1:]) // num_groups
    rows = input.reshape(input.shape[0] * num_groups, width)  # (N·G, C/G · spatial)
    output = standardize_rows(rows, eps=eps).view(input.shape)
    return like_input(_affine(output, weight, bias), input)


# --8<-- [end:group_norm]


# --8<-- [start:instance_norm]
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Instance norm of ``(N, C, *)``: standardise each sample's channel over its spatial axes.

    With ``use_input_stats`` and running buffers, the buffers move towards the mean over the
    batch of the per-instance means and per-instance **unbiased** variances. Without
    ``use_input_stats``, the running buffers normalise, as batch norm does in eval mode.
    """
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    check_parameters("instance_norm", input, weight, bias)
    spatial = tuple(range(2, input.dim()))
    count = math.prod(input.shape[2:])
    if count == 1:
        raise ValueError(
            "instance_norm needs more than 1 spatial element per channel, "
            f"got input of shape {tuple(input.shape)}"
        )
    rows = input.reshape(input.shape[0] * input.shape[1], count)  # (N·C, spatial)
    output = standardize_rows(rows, eps=eps).view(input.shape)
    if running_mean is not None and input.numel() > 0:
        with torch.no_grad():
            var, mean = torch.var_mean(input, dim=spatial, correction=1)  # (N, C), unbiased
            running_mean.lerp_(mean.mean(0).to(running_mean.dtype), momentum)
            running_var.lerp_(var.mean(0).to(running_var.dtype), momentum)
    return _affine(output, weight, bias)


# --8<-- [end:instance_norm]


# --8<-- [start:rms_norm]
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / √(mean(x²) + ε) · γ`` over the trailing ``normalized_shape`` axes: no centring,
    no bias. ``eps=None`` means the machine epsilon of the input's dtype, as in PyTorch.

    Shapes: ``input`` ``(*, *normalized_shape)``; the output has the same shape.
    """
    normalized_shape = tuple(normalized_shape)
    expect_floating("rms_norm", input)
    if tuple(input.shape[input.dim() - len(normalized_shape) :]) != normalized_shape:
        raise RuntimeError(
            f"rms_norm expects input of shape (*, {', '.join(map(str, normalized_shape))}), "
            f"got {tuple(input.shape)}"
        )
    if eps is None:
        eps = torch.finfo(input.dtype).eps
    dims = tuple(range(-len(normalized_shape), 0))
    output = input * torch.rsqrt(input.pow(2).mean(dims, keepdim=True) + eps)
    # the input's dtype, also for parameters of another dtype (as PyTorch)
    return output if weight is None else (output * weight).to(input.dtype)


# --8<-- [end:rms_norm]
