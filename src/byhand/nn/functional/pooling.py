"""Pooling: ``max_pool2d``, ``avg_pool2d`` and their adaptive forms, on strided window views.

Every window is a view made by ``Tensor.unfold`` (nothing is copied until a reduction reads
it); the gradient flows back through the views, so the backward needs no code of its own.
"""

import torch

from byhand.nn.functional.activation import expect_floating
from byhand.nn.functional.layout import like_input

__all__ = [
    "pool_output_size",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_windows",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
]


def _pair(value, name="argument"):
    """``3 -> (3, 3)``; a pair stays a pair (shared with ``conv.py``)."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) == 1:
        return (value[0], value[0])
    if len(value) != 2:
        raise RuntimeError(f"{name} must be an int or a pair of ints, got {value}")
    return value


def _positive(name, **pairs):
    """Refuse a kernel or stride below 1 (PyTorch: RuntimeError), before anything divides."""
    for label, pair in pairs.items():
        if min(pair) <= 0:
            raise RuntimeError(f"{name}: {label} must be greater than zero, got {pair}")


def _batched(input, name):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"{name} expects (N, C, H, W) or (C, H, W) input, got shape {tuple(input.shape)}"
        )
    return input.unsqueeze(0) if input.dim() == 3 else input


# --8<-- [start:pool_output_size]
def pool_output_size(size, kernel_size, stride, padding=0, dilation=1, ceil_mode=False):
    """Windows along one axis: ``⌊(size + 2p − d(k − 1) − 1) / s⌋ + 1`` (``⌈…⌉`` in ceil mode).

    In ceil mode a last, partial window is kept only if it starts inside the input or the left
    padding, never in the right padding alone.
    """
    span = dilation * (kernel_size - 1) + 1
    reach = size + 2 * padding - span
    out = (reach + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


# --8<-- [end:pool_output_size]


# --8<-- [start:core_windows]
def _windows(input, kernel, stride, padding, dilation, ceil_mode, fill, name):
    """Padded input's windows as a view ``(N, C, Ho, Wo, kh, kw)``, and ``(Ho, Wo)``."""
    sizes = []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if padding[axis] < 0 or padding[axis] * 2 > span:
            raise RuntimeError(
                f"{name}: padding should be at most half of the effective kernel size, got "
                f"padding={padding}, kernel_size={kernel} and dilation={dilation}"
            )
        out = pool_output_size(
            input.shape[2 + axis],
            kernel[axis],
            stride[axis],
            padding[axis],
            dilation[axis],
            ceil_mode,
        )
        if out <= 0 or input.shape[2 + axis] == 0:
            raise RuntimeError(
                f"{name}: output size is too small: input {tuple(input.shape[2:])}, "
                f"kernel_size={kernel}, padding={padding}, dilation={dilation}"
            )
        sizes.append((out, span))
    (height, span_h), (width, span_w) = sizes
    # pad: ``padding`` before, and after as far as the last window reaches (ceil mode)
    bottom = max(0, (height - 1) * stride[0] + span_h - input.shape[2] - padding[0])
    right = max(0, (width - 1) * stride[1] + span_w - input.shape[3] - padding[1])
    if not input.is_floating_point() and fill == float("-inf"):
        fill = torch.iinfo(input.dtype).min  # integers: the smallest one stands for -inf
    x = input.new_full(
        (
            *input.shape[:2],
            input.shape[2] + padding[0] + bottom,
            input.shape[3] + padding[1] + right,
        ),
        fill,
    )
    x[
        :, :, padding[0] : padding[0] + input.shape[2], padding[1] : padding[1] + input.shape[3]
    ] = input
    windows = x.unfold(2, span_h, stride[0]).unfold(3, span_w, stride[1])
    windows = windows[:, :, :height, :width, :: dilation[0], :: dilation[1]]
    return windows, (height, width)


# --8<-- [end:core_windows]


# --8<-- [start:max_pool2d]
def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    """Maximum of each window, ``(N, C, H, W) -> (N, C, Ho, Wo)``, as ``F.max_pool2d``.

    Ties and NaN as PyTorch: the *first* maximum in row-major window order wins (a NaN wins
    outright), and the whole gradient goes to that one element. ``indices`` are flat
    ``row · W + col`` positions in the unpadded input.
    """
    batched = _batched(input, "max_pool2d")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    _positive("max_pool2d", kernel_size=kernel, stride=stride, dilation=dilation)
    windows, (height, width) = _windows(
        batched, kernel, stride, padding, dilation, ceil_mode, float("-inf"), "max_pool2d"
    )
    n, channels = batched.shape[:2]
    flat = windows.reshape(n, channels, height, width, kernel[0] * kernel[1])
    first = flat.argmax(dim=-1, keepdim=True)  # the first maximum (NaN counts as largest)
    # where every value is -inf PyTorch keeps the first *real* element, never the padding
    top = torch.arange(height, device=input.device) * stride[0] - padding[0]
    left = torch.arange(width, device=input.device) * stride[1] - padding[1]
    first_row = (-top).clamp(min=0).add(dilation[0] - 1).div(dilation[0], rounding_mode="floor")
    first_col = (
        (-left).clamp(min=0).add(dilation[1] - 1).div(dilation[1], rounding_mode="floor")
    )
    first_real = (first_row.view(-1, 1) * kernel[1] + first_col.view(1, -1)).view(
        1, 1, height, width, 1
    )
    values = flat.gather(-1, first)
    lowest = float("-inf") if input.is_floating_point() else torch.iinfo(input.dtype).min
    tap = torch.where(values == lowest, first_real, first)
    out = flat.gather(-1, tap).squeeze(-1)  # gather: the gradient goes to this element only
    if input.dim() == 3:
        out = out.squeeze(0)
    out = like_input(out, input)
    if not return_indices:
        return out
    tap = tap.squeeze(-1)
    rows = top.view(-1, 1) + (tap // kernel[1]) * dilation[0]
    cols = left.view(1, -1) + (tap % kernel[1]) * dilation[1]
    indices = rows * batched.shape[3] + cols
    return out, like_input(indices, input) if input.dim() == 4 else indices.squeeze(0)


# --8<-- [end:max_pool2d]


# --8<-- [start:avg_pool2d]
def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Mean of each window, ``(N, C, H, W) -> (N, C, Ho, Wo)``, as ``F.avg_pool2d``.

    The sum runs over the real (zero-padded) window; it is divided by ``divisor_override`` if
    given, else by the window's size counting padding (``count_include_pad``) or not, a window
    that hangs past the right padding in ceil mode is clipped to it first.
    """
    batched = _batched(input, "avg_pool2d")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    _positive("avg_pool2d", kernel_size=kernel, stride=stride)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor_override must not be zero")
    windows, (height, width) = _windows(
        batched, kernel, stride, padding, (1, 1), ceil_mode, 0.0, "avg_pool2d"
    )
    total = windows.sum(dim=(-2, -1))
    if not total.is_floating_point():  # integers stay integers: the mean rounds toward zero
        total = total.double()
    if divisor_override is not None:
        out = total / divisor_override
    else:
        counts = []
        for axis, length in enumerate((height, width)):
            size = batched.shape[2 + axis]
            start = torch.arange(length, device=input.device) * stride[axis] - padding[axis]
            end = (start + kernel[axis]).clamp(max=size + padding[axis])
            if not count_include_pad:
                start, end = start.clamp(min=0), end.clamp(max=size)
            counts.append(end - start)
        divisor = counts[0].view(-1, 1) * counts[1].view(1, -1)
        out = total / divisor.to(total.dtype)
    if not input.is_floating_point():
        out = out.trunc().to(input.dtype)
    return like_input(out, input) if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:avg_pool2d]


# --8<-- [start:adaptive_windows]
def adaptive_windows(size, output_size, device=None):
    """Start and end (exclusive) of each adaptive window: ``⌊i·L/n⌋`` and ``⌈(i+1)·L/n⌉``.

    The windows cover ``[0, L)``, overlap by at most one element, and differ in length by at
    most one — unlike a fixed kernel and stride, which may leave elements out.
    """
    i = torch.arange(output_size, device=device)
    start = torch.div(i * size, output_size, rounding_mode="floor")
    end = torch.div((i + 1) * size + output_size - 1, output_size, rounding_mode="floor")
    return start, end


def longest_window(size, output_size):
    """The longest of ``adaptive_windows``' lengths, from the sizes alone (a Python int: no
    tensor read, so no graph break under ``torch.compile``)."""
    return max(
        ((i + 1) * size + output_size - 1) // output_size - i * size // output_size
        for i in range(output_size)
    )


def _adaptive_sizes(input, output_size, name):
    batched = _batched(input, name)
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2:
        raise RuntimeError(f"{name}: output_size must be an int or a pair, got {output_size}")
    sizes = tuple(batched.shape[2 + a] if s is None else s for a, s in enumerate(sizes))
    if min(sizes) < 0 or min(batched.shape[1:]) == 0:
        raise RuntimeError(
            f"{name} expects non-empty (C, H, W) to pool to {sizes}, got {tuple(input.shape)}"
        )
    expect_floating(name, input)
    return batched, sizes


# --8<-- [end:adaptive_windows]


# --8<-- [start:adaptive_avg_pool2d]
def adaptive_avg_pool2d(input, output_size):
    """Average over adaptive windows, ``(N, C, H, W) -> (N, C, *output_size)``.

    An average over a rectangle is an average over its rows then its columns: each axis in
    turn is read through an index of its windows (padded to the longest one) and averaged over
    the window's own elements — a padding slot is picked out, never multiplied by 0, so an inf
    or NaN stays in the windows that hold it. Pooling to ``1 × 1`` is the plain mean.
    """
    batched, sizes = _adaptive_sizes(input, output_size, "adaptive_avg_pool2d")
    if sizes == (1, 1):
        out = batched.mean((-2, -1), keepdim=True)
    else:
        out = batched
        for axis, length in enumerate(sizes):
            dim = 2 + axis
            start, end = adaptive_windows(batched.shape[dim], length, input.device)
            longest = longest_window(batched.shape[dim], length) if length else 0
            index = start.view(-1, 1) + torch.arange(longest, device=input.device)
            inside = index < end.view(-1, 1)  # (length, longest)
            index = torch.where(inside, index, start.view(-1, 1))
            shape = [1, 1, 1, 1, 1]
            shape[dim], shape[dim + 1] = length, longest
            picked = out.index_select(dim, index.view(-1))
            picked = picked.view(*out.shape[:dim], length, longest, *out.shape[dim + 1 :])
            picked = torch.where(inside.view(shape), picked, 0.0)
            count = (end - start).to(input.dtype).view(-1, *[1] * (3 - dim))
            out = picked.sum(dim + 1) / count
    out = out if input.dim() == 4 else out.squeeze(0)
    return like_input(out, input)


# --8<-- [end:adaptive_avg_pool2d]


# --8<-- [start:adaptive_max_pool2d]
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over adaptive windows, ``(N, C, H, W) -> (N, C, *output_size)``.

    Windows differ in length by one; each is read through an index that repeats its own last
    element to the longest length (a repeat cannot change a maximum, nor come before it).
    """
    batched, sizes = _adaptive_sizes(input, output_size, "adaptive_max_pool2d")
    n, channels, height, width = batched.shape
    index = []
    for axis, out in enumerate(sizes):
        start, end = adaptive_windows(batched.shape[2 + axis], out, input.device)
        longest = longest_window(batched.shape[2 + axis], out) if out else 0
        offsets = torch.arange(longest, device=input.device)
        index.append(torch.minimum(start.view(-1, 1) + offsets, end.view(-1, 1) - 1))
    rows, cols = index  # (Ho, Lh), (Wo, Lw)
    ho, lh = rows.shape
    wo, lw = cols.shape
    picked = batched[:, :, rows.view(-1)][..., cols.view(-1)]  # (N, C, Ho·Lh, Wo·Lw)
    picked = picked.view(n, channels, ho, lh, wo, lw).permute(0, 1, 2, 4, 3, 5)
    tap = picked.reshape(n, channels, ho, wo, lh * lw).argmax(dim=-1)  # first maximum
    row = rows[torch.arange(ho, device=input.device).view(-1, 1), tap // lw]
    col = cols[torch.arange(wo, device=input.device), tap % lw]
    flat_index = row * width + col
    out = batched.flatten(2).gather(2, flat_index.flatten(2)).view(n, channels, ho, wo)
    if input.dim() == 3:
        out, flat_index = out.squeeze(0), flat_index.squeeze(0)
    out, flat_index = like_input(out, input), like_input(flat_index, input)
    return (out, flat_index) if return_indices else out


# --8<-- [end:adaptive_max_pool2d]
