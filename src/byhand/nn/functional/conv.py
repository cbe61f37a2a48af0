"""Convolutions: the definition as loops, im2col + one matmul, and the fast one the modules use.

``conv2d`` is an implicit GEMM with a hand-written backward (``torch.autograd.Function``); its
input gradient is itself a convolution (of the dilated upstream gradient with the flipped
kernel), and that same routine *is* ``conv_transpose2d``. ``conv1d`` is ``conv2d`` on a height
of one; ``deform_conv2d`` samples its windows bilinearly at learned offsets.
"""

import torch

from byhand.nn.functional.layout import like_input
from byhand.nn.functional.pooling import _pair, avg_pool2d

__all__ = [
    "conv_output_size",
    "pad",
    "conv2d_loop",
    "im2col",
    "conv2d_im2col",
    "conv2d",
    "conv1d",
    "conv_transpose2d",
    "bilinear_sample",
    "deform_conv2d",
    "octave_conv2d",
]


# --8<-- [start:conv_output_size]
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one axis: ``⌊(size + 2p − d(k − 1) − 1) / s⌋ + 1``.

    A dilated kernel spans ``d(k − 1) + 1`` inputs; the window can start at ``size + 2p`` minus
    that span plus one places, of which every ``s``-th is used.
    """
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


# --8<-- [end:conv_output_size]


# --8<-- [start:pad]
def _padded_positions(size, before, after, mode, device):
    """Which input index each padded position reads, for the non-constant padding modes."""
    index = torch.arange(-before, size + after, device=device)
    if mode == "reflect":  # mirror without repeating the edge: -1 -> 1, size -> size - 2
        index = index.abs()
        index = torch.where(index > size - 1, 2 * (size - 1) - index, index)
    elif mode == "replicate":  # repeat the edge
        index = index.clamp(0, size - 1)
    elif mode == "circular":  # wrap around what is left once negative padding has cropped
        first, last = max(0, -before), size - max(0, -after)
        index = torch.arange(-max(0, before), last - first + max(0, after), device=device)
        index = first + index.remainder(last - first)
    return index


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last ``len(pad) // 2`` dims by ``pad = (left, right, top, bottom, ...)``.

    ``mode``: ``'constant'`` (with ``value``), ``'reflect'``, ``'replicate'``, ``'circular'``
    (the conv layers' ``padding_mode``); the last three read each padded position from an
    index.

    Shapes: ``input`` ``(*, D1, ..., Dk)``; each padded dimension grows by its two amounts.
    """
    if len(pad) % 2 or len(pad) // 2 > input.dim():
        raise RuntimeError(f"pad needs pairs for at most {input.dim()} dims, got {tuple(pad)}")
    if mode in ("constant", "zeros"):  # a negative amount crops
        shape = list(input.shape)
        source, target = [slice(None)] * input.dim(), [slice(None)] * input.dim()
        for i in range(len(pad) // 2):
            dim = input.dim() - 1 - i
            before, after = pad[2 * i], pad[2 * i + 1]
            shape[dim] += before + after
            if shape[dim] < 0:
                raise RuntimeError(
                    f"pad {tuple(pad)} leaves a negative size for dim {dim} of "
                    f"{tuple(input.shape)}"
                )
            first, last = max(0, -before), input.shape[dim] - max(0, -after)
            source[dim] = slice(first, max(first, last))
            target[dim] = slice(max(0, before), max(0, before) + max(0, last - first))
        out = input.new_full(shape, value)
        out = like_input(out, input)
        out[tuple(target)] = input[tuple(source)]
        return out
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(
            f"pad mode must be constant, reflect, replicate or circular, got {mode}"
        )
    out = input
    for i in range(len(pad) // 2):
        dim, before, after = input.dim() - 1 - i, pad[2 * i], pad[2 * i + 1]
        size = input.shape[dim]
        limit = size - 1 if mode == "reflect" else size
        if max(before, after) > limit:
            raise RuntimeError(
                f"{mode} padding needs padding <= {limit} for a dimension of size {size}, "
                f"got ({before}, {after})"
            )
        index = _padded_positions(size, before, after, mode, input.device)
        out = out.index_select(dim, index)
    return out


# --8<-- [end:pad]


def _conv_padding(padding, kernel_size, stride, dilation):
    """``(top, bottom, left, right)`` of ints, a pair, ``'same'``, ``'valid'``."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(
                f"padding='same' is not supported for strided convolutions, got stride={stride}"
            )
        pads = []
        for k, d in zip(kernel_size, dilation):
            total = d * (k - 1)  # an even kernel pads one more on the bottom/right
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = _pair(padding, "padding")
    return (ph, ph, pw, pw)


def check_conv_arguments(name, stride, padding, dilation, kernel_size=(1,)):
    """PyTorch's RuntimeErrors for a kernel, stride or dilation below 1, a negative padding."""
    checks = (("kernel size", tuple(kernel_size)), ("stride", stride), ("dilation", dilation))
    for label, values in checks:
        if min(values) < 1:
            raise RuntimeError(f"{name}: {label} should be greater than zero, got {values}")
    if not isinstance(padding, str) and min(_pair(padding, "padding")) < 0:
        raise RuntimeError(f"{name}: negative padding is not supported, got {padding}")


def _check_conv(input, weight, groups, name, transposed=False):
    """Batch an unbatched ``(C, H, W)`` input; clear errors for rank, channels and groups
    (RuntimeError, as PyTorch's)."""
    if weight.dim() != 4:
        raise RuntimeError(f"{name} expects a 4-D weight, got shape {tuple(weight.shape)}")
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"{name} expects (N, C, H, W) or (C, H, W) input, got shape {tuple(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(f"{name}: groups must be a positive integer, got {groups}")
    in_channels = weight.shape[0] if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if in_channels % groups or out_channels % groups:
        raise RuntimeError(
            f"{name}: groups={groups} must divide in_channels={in_channels} "
            f"and out_channels={out_channels}"
        )
    channels = input.shape[-3]
    if channels != in_channels:
        raise RuntimeError(
            f"{name} expects input with {in_channels} channels "
            f"(weight {tuple(weight.shape)}, groups={groups}), "
            f"got {channels} channels in input of shape {tuple(input.shape)}"
        )
    return input.unsqueeze(0) if input.dim() == 3 else input


# --8<-- [start:conv2d_loop]
def conv2d_loop(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one output position at a time: ``(N, C, H, W) -> (N, O, Ho, Wo)``.

    ``y[n, o, i, j] = b[o] + Σ_{c, u, v} x[n, c, i·s + u·d, j·s + v·d] · w[o, c, u, v]`` over
    the channels ``c`` of output ``o``'s group, on the zero-padded input.
    """
    batched = _check_conv(input, weight, groups, "conv2d_loop")
    stride, dilation = _pair(stride), _pair(dilation)
    top, bottom, left, right = _conv_padding(padding, weight.shape[2:], stride, dilation)
    x = pad(batched, (left, right, top, bottom))
    out_channels, group_in, kh, kw = weight.shape
    group_out = out_channels // groups
    height = conv_output_size(x.shape[2], kh, stride[0], 0, dilation[0])
    width = conv_output_size(x.shape[3], kw, stride[1], 0, dilation[1])
    rows = []
    for i in range(height):
        row = []
        for j in range(width):
            r, c = i * stride[0], j * stride[1]
            window = x[:, :, r : r + dilation[0] * (kh - 1) + 1 : dilation[0]]
            window = window[:, :, :, c : c + dilation[1] * (kw - 1) + 1 : dilation[1]]
            values = []
            for g in range(groups):  # (N, 1, Cg, kh, kw) * (Og, Cg, kh, kw), summed
                patch = window[:, g * group_in : (g + 1) * group_in].unsqueeze(1)
                kernels = weight[g * group_out : (g + 1) * group_out]
                values.append((patch * kernels).sum(dim=(2, 3, 4)))
            row.append(torch.cat(values, dim=1))  # (N, O)
        rows.append(torch.stack(row, dim=-1))  # (N, O, Wo)
    out = torch.stack(rows, dim=-2)  # (N, O, Ho, Wo)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:conv2d_loop]


# --8<-- [start:im2col]
def im2col(input, kernel_size, dilation=1, padding=0, stride=1):
    """Every window as a column: ``(N, C, H, W) -> (N, C·kh·kw, Ho·Wo)`` (as ``F.unfold``).

    ``Tensor.unfold`` makes the windows as a strided *view*; the ``reshape`` copies them, each
    input value once per window it falls in (about ``kh·kw`` times).
    """
    kh, kw = _pair(kernel_size)
    (dh, dw), (sh, sw) = _pair(dilation), _pair(stride)
    ph, pw = _pair(padding)
    x = pad(input, (pw, pw, ph, ph))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = x.unfold(2, span_h, sh).unfold(3, span_w, sw)[..., ::dh, ::dw]
    n, c, height, width = windows.shape[:4]  # windows: (N, C, Ho, Wo, kh, kw)
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, height * width)


def conv2d_im2col(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """im2col, then one (batched) matmul per group: ``(N, C, H, W) -> (N, O, Ho, Wo)``."""
    batched = _check_conv(input, weight, groups, "conv2d_im2col")
    stride, dilation = _pair(stride), _pair(dilation)
    top, bottom, left, right = _conv_padding(padding, weight.shape[2:], stride, dilation)
    x = pad(batched, (left, right, top, bottom))
    out_channels, group_in, kh, kw = weight.shape
    height = conv_output_size(x.shape[2], kh, stride[0], 0, dilation[0])
    width = conv_output_size(x.shape[3], kw, stride[1], 0, dilation[1])
    columns = im2col(x, (kh, kw), dilation, 0, stride)  # (N, C·kh·kw, Ho·Wo)
    columns = columns.view(x.shape[0], groups, group_in * kh * kw, height * width)
    kernels = weight.reshape(groups, out_channels // groups, group_in * kh * kw)
    out = (kernels @ columns).reshape(x.shape[0], out_channels, height, width)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:im2col]


# --8<-- [start:conv2d_fast]
def _planar(t):
    """Whether the ``(N, H, W, C)`` view ``t`` is stored channels-first, ``(C, N, H, W)``.

    Depthwise convs keep an NCHW input's planes as they are (never mixing channels, they need
    no GEMM and so no channels-last rows); under ``torch.compile`` everything is channels-last
    (no ``out=`` into a transposed tensor).
    """
    return t.shape[3] > 1 and t.stride(3) != 1 and not torch.compiler.is_compiling()


def _empty_nhwc(shape, like):
    """An uninitialised ``(N, H, W, C)`` tensor stored the way ``like`` is."""
    if _planar(like):
        n, height, width, channels = shape
        return like.new_empty(channels, n, height, width).permute(1, 2, 3, 0)
    return like.new_empty(shape)


def _rows(t):
    """``(N, H, W, C)`` as the ``(N·H·W, C)`` matrix, a view where the memory allows."""
    if _planar(t):
        return t.permute(3, 0, 1, 2).reshape(t.shape[3], -1).t()
    return t.reshape(-1, t.shape[3])


def _conv_nhwc(x, weight, stride, dilation, groups, columns=None):
    """Correlate a padded channels-last ``x (N, Hp, Wp, C)`` with ``weight (O, C/g, kh, kw)``.

    Returns ``(N, Ho, Wo, O)``. Implicit GEMM: seen as a ``(N·Hp·Wp, C)`` matrix, the input
    shifted down by ``u·Wp + v`` rows lines tap ``(u, v)`` up with every output position, so
    each tap is one ``addmm_`` on a contiguous slice and no window is ever copied. Rows that
    wrap past a row end land outside ``(Ho, Wo)`` and are cropped. With a stride, or on a small
    map where most rows would be cropped, the windows are copied once (im2col, ``_windowed``)
    and one GEMM does every tap; grouped strided convs gather each tap's strided view.
    """
    n, hp, wp, channels = x.shape
    out_channels, group_in, kh, kw = weight.shape
    group_out = out_channels // groups
    (sh, sw), (dh, dw) = stride, dilation
    height = conv_output_size(hp, kh, sh, 0, dh)
    width = conv_output_size(wp, kw, sw, 0, dw)
    unit_stride = sh == 1 and sw == 1
    windowed = _windowed(x.shape, (kh, kw), stride, dilation, groups)
    grid = (hp, wp) if unit_stride and not windowed else (height, width)
    out = _empty_nhwc((n, *grid, out_channels), x)
    rows = out.view(-1, out_channels)
    if n == 0 or rows.shape[0] == 0:
        return out.zero_()[:, :height, :width]
    if windowed:  # one GEMM, K = kh·kw·C
        if columns is None:
            columns = _windows(x, (kh, kw), stride, dilation, height, width)
        kernels = weight.permute(0, 2, 3, 1).reshape(out_channels, -1)  # (O, kh·kw·C)
        torch.mm(columns, kernels.t(), out=rows)
        return out
    taps = weight.permute(2, 3, 1, 0).contiguous()  # (kh, kw, C/g, O): x_row @ taps[u, v]
    matrix = _rows(x)
    per_tap = [list(row) for row in taps]  # taps[u][v], views made once, not per block
    depthwise = group_in == 1 and groups > 1
    if depthwise and group_out > 1:  # each input channel feeds group_out outputs
        matrix = matrix.repeat_interleave(group_out, dim=1)
    for u, v, target, source in _tap_rows(x, rows, matrix, (kh, kw), stride, dilation):
        first = u == 0 and v == 0  # tap (0, 0) covers every row: it overwrites
        if groups == 1:
            target.addmm_(source, per_tap[u][v], beta=0 if first else 1)
            continue
        if depthwise and not unit_stride and group_out > 1:
            source = source.repeat_interleave(group_out, dim=1)
        if depthwise:  # groups == C: an elementwise multiply per tap, not a GEMM
            if first:
                torch.mul(source, taps[u, v, 0], out=target)
            else:
                target.addcmul_(source, taps[u, v, 0])
            continue
        for g in range(groups):
            o = slice(g * group_out, (g + 1) * group_out)
            c = slice(g * group_in, (g + 1) * group_in)
            target[:, o].addmm_(source[:, c], taps[u, v, :, o], beta=0 if first else 1)
    return out[:, :height, :width]


def _tap_rows(x, rows, matrix, kernel_size, stride, dilation):
    """``(u, v, rows_part, x_rows)`` for every tap: output (or upstream-gradient) rows and
    the input rows that tap ``(u, v)`` pairs them with.

    Unit stride: ``rows`` lie on the padded grid and ``x_rows`` are ``matrix`` (``x``'s rows)
    shifted by ``u·dh·Wp + v·dw``, block by block (``_block_rows``). Strided: ``rows`` lie on
    the output grid and each tap's strided view of ``x`` is gathered into rows.
    """
    n, hp, wp, channels = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    total = rows.shape[0]
    if (sh, sw) != (1, 1):
        height = conv_output_size(hp, kh, sh, 0, dh)
        width = conv_output_size(wp, kw, sw, 0, dw)
        for u in range(kh):
            for v in range(kw):
                window = x[:, u * dh :: sh, v * dw :: sw][:, :height, :width]
                yield u, v, rows, window.reshape(-1, channels)
        return
    block = _block_rows(x, rows.shape[1])
    for start in range(0, total, block):  # a block of rows stays in cache for every tap
        end = min(start + block, total)
        for u in range(kh):
            for v in range(kw):
                shift = u * dh * wp + v * dw
                stop = max(start, min(end, total - shift))
                yield u, v, rows[start:stop], matrix[start + shift : stop + shift]


def _block_rows(x, out_channels):
    """Rows per block of the shifted-rows loop: about 1 MB of input and output rows per
    thread, which stay in the cores' caches while all ``kh·kw`` taps add into them (one pass
    over memory, not ``kh·kw``); each GEMM is split across the threads, so a block grows with
    their number. One block on a GPU and under ``torch.compile`` (a smaller graph)."""
    n, hp, wp, channels = x.shape
    if x.device.type != "cpu" or torch.compiler.is_compiling():
        return max(1, n * hp * wp)
    return max(1024, 2**18 * torch.get_num_threads() // (channels + out_channels))


def _windowed(shape, kernel_size, stride, dilation, groups):
    """Whether a conv on padded ``(N, Hp, Wp, C)`` should copy its windows (im2col) first.

    The shifted-rows GEMM computes every padded position and crops; a stride (which would
    compute ``s²`` times the outputs needed), a small map (a 4×4 map padded to 6×6 computes
    2.25 times the outputs needed) or few channels (an RGB stem: ``kh·kw`` GEMMs with K = 3)
    is cheaper as one GEMM over the copied windows.
    """
    if groups != 1:
        return False
    if torch.compiler.is_compiling():  # one GEMM per conv: a small graph that fuses well
        return True
    _, hp, wp, _ = shape
    height = conv_output_size(hp, kernel_size[0], stride[0], 0, dilation[0])
    width = conv_output_size(wp, kernel_size[1], stride[1], 0, dilation[1])
    if stride != (1, 1):
        return True
    few_channels = shape[3] < 16  # a GEMM with K = C this small is mostly memory traffic
    return kernel_size != (1, 1) and (few_channels or hp * wp > 1.3 * height * width)


def _windows(x, kernel_size, stride, dilation, height, width):
    """im2col in channels-last: ``(N·Ho·Wo, kh·kw·C)``; the windows are a strided view of
    ``x`` (``Tensor.unfold``) and one ``reshape`` copies them."""
    n, _, _, channels = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = x.unfold(1, span_h, sh).unfold(2, span_w, sw)[..., ::dh, ::dw]
    windows = windows[:, :height, :width]  # (N, Ho, Wo, C, kh, kw)
    return windows.permute(0, 1, 2, 4, 5, 3).reshape(n * height * width, kh * kw * channels)


def _fold_windows(columns, shape, kernel_size, stride, dilation):
    """col2im, the adjoint of ``_windows``: add every window back where it was read from.

    ``columns (N, Ho, Wo, kh, kw, C)`` -> ``(N, Hp, Wp, C)``; positions no window reads stay 0.
    """
    n, height, width, kh, kw, channels = columns.shape
    (sh, sw), (dh, dw) = stride, dilation
    if torch.compiler.is_compiling():  # a sum of placed taps: no chain of in-place updates
        return sum(
            _placed(columns[:, :, :, u, v], shape, u * dh, v * dw, stride)
            for u in range(kh)
            for v in range(kw)
        )
    out = columns.new_zeros(n, *shape, channels)
    for u in range(kh):
        for v in range(kw):
            rows = slice(u * dh, u * dh + sh * (height - 1) + 1, sh)
            cols = slice(v * dw, v * dw + sw * (width - 1) + 1, sw)
            out[:, rows, cols] += columns[:, :, :, u, v]
    return out


def _placed(values, shape, top, left, stride):
    """``values (N, h, w, C)`` at rows ``top + i·sh``, columns ``left + j·sw`` of zeros
    ``(N, *shape, C)``: spread ``s`` apart, then padded (a negative amount crops)."""
    n, h, w, channels = values.shape
    (sh, sw), (height, width) = stride, shape
    if (sh, sw) != (1, 1):
        spread = values.new_zeros(n, h, sh, w, sw, channels)
        spread[:, :, 0, :, 0] = values
        values = spread.view(n, h * sh, w * sw, channels)
        h, w = h * sh, w * sw
    return pad(values, (0, 0, left, width - left - w, top, height - top - h))


def _conv_weight_grad_nhwc(x, grad, kernel_size, stride, dilation, groups, columns=None):
    """``∂L/∂w (O, C/g, kh, kw)`` for padded ``x (N, Hp, Wp, C)``, ``grad (N, Ho, Wo, O)``.

    Per tap ``(u, v)``: ``∂L/∂w[:, :, u, v] = gradᵀ @ x_shifted``, the correlation of the
    upstream gradient with the input, by the same shifted rows as the forward. ``columns``:
    the forward's copied windows (``x`` may then be ``None``).
    """
    _, height, width, out_channels = grad.shape
    kh, kw = kernel_size
    if columns is None and _windowed(x.shape, kernel_size, stride, dilation, groups):
        columns = _windows(x, kernel_size, stride, dilation, height, width)
    if columns is not None:  # ∂w = gradᵀ @ columns, one GEMM
        flat = torch.mm(grad.reshape(-1, out_channels).t(), columns)
        return flat.view(out_channels, kh, kw, -1).permute(0, 3, 1, 2)
    n, hp, wp, channels = x.shape
    sh, sw = stride
    group_in, group_out = channels // groups, out_channels // groups
    taps = grad.new_zeros(kh, kw, out_channels, group_in)
    if n == 0 or height == 0 or width == 0:
        return taps.permute(2, 3, 0, 1)
    unit_stride = sh == 1 and sw == 1
    if unit_stride:  # the upstream gradient on the full (Hp, Wp) grid, zero where cropped
        upstream = _rows(_embed(grad, hp, wp, 0, 0, planes=_planar(x)))
    else:
        upstream = _rows(grad)
    matrix = _rows(x)
    depthwise = group_in == 1 and groups > 1
    per_tap = [list(row) for row in taps]  # taps[u][v], views made once, not per block
    for u, v, g_rows, source in _tap_rows(x, upstream, matrix, kernel_size, stride, dilation):
        if groups == 1:
            per_tap[u][v].addmm_(g_rows.t(), source)
            continue
        if depthwise:
            if group_out > 1:
                source = source.repeat_interleave(group_out, dim=1)
            taps[u, v, :, 0] += (g_rows * source).sum(0)
            continue
        for g in range(groups):
            o = slice(g * group_out, (g + 1) * group_out)
            c = slice(g * group_in, (g + 1) * group_in)
            taps[u, v, o].addmm_(g_rows[:, o].t(), source[:, c])
    return taps.permute(2, 3, 0, 1)


def _conv_input_grad_nhwc(grad, weight, size, padding, stride, dilation, groups):
    """``∂L/∂x (N, H, W, C)`` of a conv from ``grad (N, Ho, Wo, O)``: a transposed conv.

    Spread the upstream gradient ``s`` apart (zeros between), pad it by the kernel's span less
    one, and correlate it with the kernel flipped in space, in- and out-channels swapped.
    ``padding = (top, left)`` of the forward conv: only the unpadded ``(H, W)`` is computed.
    """
    n, height, width, out_channels = grad.shape
    _, group_in, kh, kw = weight.shape
    (sh, sw), (dh, dw), (top, left) = stride, dilation, padding
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    padded = (
        max(top + size[0], span_h + sh * (height - 1)),
        max(left + size[1], span_w + sw * (width - 1)),
    )
    if _windowed((n, *padded, groups * group_in), (kh, kw), stride, dilation, groups):
        # col2im: each output's window gets grad @ kernels, added back where it was read;
        # no product with the zeros a spread gradient would hold
        kernels = weight.permute(0, 2, 3, 1).reshape(out_channels, -1)  # (O, kh·kw·C)
        columns = torch.mm(grad.reshape(-1, out_channels), kernels)
        columns = columns.view(n, height, width, kh, kw, group_in)
        full = _fold_windows(columns, padded, (kh, kw), stride, dilation)
        return full[:, top : top + size[0], left : left + size[1]]
    # spread[q] holds grad at q = span - 1 - pad + i·s, within the rows that reach (H, W)
    shape = (size[0] + span_h - 1, size[1] + span_w - 1)
    first = (span_h - 1 - top, span_w - 1 - left)
    (rows, grad_rows), (cols, grad_cols) = (
        _spread_slices(height, sh, first[0], shape[0]),
        _spread_slices(width, sw, first[1], shape[1]),
    )
    if (sh, sw) == (1, 1) and (
        grad_rows.stop - grad_rows.start,
        grad_cols.stop - grad_cols.start,
    ) == (height, width):  # nothing to spread or crop: zero the border only
        spread = _embed(grad, *shape, *first, planes=group_in == 1 and groups > 1)
    else:
        spread = grad.new_zeros(n, *shape, out_channels)
        spread[:, rows, cols] = grad[:, grad_rows, grad_cols]
    group_out = out_channels // groups
    flipped = weight.view(groups, group_out, group_in, kh, kw).transpose(1, 2)
    flipped = flipped.reshape(groups * group_in, group_out, kh, kw).flip(2, 3)
    return _conv_nhwc(spread, flipped, (1, 1), dilation, groups)


def _spread_slices(count, stride, first, length):
    """Slices putting ``count`` values ``stride`` apart from ``first`` in ``[0, length)``."""
    lo = 0 if first >= 0 else (stride - 1 - first) // stride  # first i with first + i·s >= 0
    hi = min(count, (length - 1 - first) // stride + 1) if length - 1 >= first else 0
    if hi <= lo:
        return slice(0, 0), slice(0, 0)
    return slice(first + lo * stride, first + (hi - 1) * stride + 1, stride), slice(lo, hi)


def _embed(values, height, width, top, left, planes=False):
    """``values (N, h, w, C)`` placed at ``(top, left)`` in zeros ``(N, height, width, C)``.

    Only the border around ``values`` is zeroed: the rest is written once, by the copy. The
    result is channels-last, or, with ``planes``, stored as ``values`` is (see ``_planar``).
    """
    n, h, w, channels = values.shape
    shape = (n, height, width, channels)
    if planes and _planar(values):  # a border of planes is many short runs: zero it all
        out = _empty_nhwc(shape, values).zero_()
        out[:, top : top + h, left : left + w] = values
        return out
    out = values.new_empty(shape)
    out[:, :top].zero_(), out[:, top + h :].zero_()
    out[:, top : top + h, :left].zero_(), out[:, top : top + h, left + w :].zero_()
    out[:, top : top + h, left : left + w] = values
    return out


def _to_nhwc_padded(input, top, bottom, left, right, planes=False):
    """``(N, C, H, W)`` -> zero-padded ``(N, H + top + bottom, W + ..., C)``, channels-last
    (with ``planes``: stored as ``input`` is)."""
    height, width = input.shape[2] + top + bottom, input.shape[3] + left + right
    return _embed(input.permute(0, 2, 3, 1), height, width, top, left, planes)


def _memory_format(input):
    if input.dim() == 4 and input.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _nchw(out_nhwc, bias, memory_format):
    """``(N, H, W, C)`` -> ``(N, C, H, W)`` in ``memory_format``, plus the bias, in one pass."""
    n, height, width, channels = out_nhwc.shape
    if torch.compiler.is_compiling():  # no out= into a strided tensor: the compiler fuses it
        y = out_nhwc.permute(0, 3, 1, 2)
        y = y if bias is None else y + bias.view(1, -1, 1, 1)
        return y.contiguous(memory_format=memory_format)
    y = torch.empty(
        n,
        channels,
        height,
        width,
        dtype=out_nhwc.dtype,
        device=out_nhwc.device,
        memory_format=memory_format,
    )
    if bias is None:
        return y.copy_(out_nhwc.permute(0, 3, 1, 2))
    return torch.add(out_nhwc.permute(0, 3, 1, 2), bias.view(1, -1, 1, 1), out=y)


class _Conv2dFunction(torch.autograd.Function):
    """conv2d with its backward written out: both gradients reuse the routines above."""

    @staticmethod
    def forward(ctx, input, weight, bias, stride, padding, dilation, groups):
        top, bottom, left, right = padding
        depthwise = groups > 1 and weight.shape[1] == 1
        x = _to_nhwc_padded(input, top, bottom, left, right, planes=depthwise)
        columns = None
        if _windowed(x.shape, weight.shape[2:], stride, dilation, groups):
            height = conv_output_size(x.shape[1], weight.shape[2], stride[0], 0, dilation[0])
            width = conv_output_size(x.shape[2], weight.shape[3], stride[1], 0, dilation[1])
            # the windows are copied once: the weight gradient reads them again
            columns = _windows(x, weight.shape[2:], stride, dilation, height, width)
        out = _conv_nhwc(x, weight, stride, dilation, groups, columns)
        ctx.save_for_backward(x if columns is None else None, weight, columns)
        ctx.config = (input.shape[2:], (top, left), stride, dilation, groups, bias is not None)
        ctx.memory_format = _memory_format(input)
        return _nchw(out, bias, ctx.memory_format)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, columns = ctx.saved_tensors
        size, corner, stride, dilation, groups, has_bias = ctx.config
        grad = grad_output.permute(0, 2, 3, 1)  # (N, Ho, Wo, O)
        if columns is not None:  # both GEMMs read grad as an (N·Ho·Wo, O) matrix: copy once
            grad = grad.contiguous()
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _conv_input_grad_nhwc(grad, weight, size, corner, stride, dilation, groups)
            grad_input = _nchw(grad_x, None, ctx.memory_format)
        if ctx.needs_input_grad[1]:
            grad_weight = _conv_weight_grad_nhwc(
                x, grad, weight.shape[2:], stride, dilation, groups, columns
            ).contiguous()
        if has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(dim=(0, 2, 3))
        return grad_input, grad_weight, grad_bias, None, None, None, None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), ``(N, C, H, W) -> (N, O, Ho, Wo)``, as ``F.conv2d``.

    ``padding``: an int, a pair, ``'valid'`` (none) or ``'same'`` (output size = input size,
    stride 1 only). Unbatched ``(C, H, W)`` inputs give ``(O, Ho, Wo)``.
    """
    batched = _check_conv(input, weight, groups, "conv2d")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    check_conv_arguments("conv2d", stride, padding, dilation, weight.shape[2:])
    padding = _conv_padding(padding, weight.shape[2:], stride, dilation)
    top, bottom, left, right = padding
    for axis, (size, before, after) in enumerate(
        ((batched.shape[2], top, bottom), (batched.shape[3], left, right))
    ):
        span = dilation[axis] * (weight.shape[2 + axis] - 1) + 1
        if size + before + after < span:
            raise RuntimeError(
                f"conv2d: kernel {tuple(weight.shape[2:])} with dilation {dilation} spans "
                f"{span} along axis {axis}, larger than the padded input "
                f"({size} + {before} + {after} = {size + before + after})"
            )
    out = _Conv2dFunction.apply(batched, weight, bias, stride, padding, dilation, groups)
    return out if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:conv2d_fast]


# --8<-- [start:conv1d]
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution ``(N, C, L) -> (N, O, Lo)``: ``conv2d`` on a height of one."""
    if input.dim() not in (2, 3) or weight.dim() != 3:
        raise RuntimeError(
            f"conv1d expects (N, C, L) or (C, L) input and a 3-D weight, got input "
            f"{tuple(input.shape)} and weight {tuple(weight.shape)}"
        )
    if isinstance(padding, str):
        padding_2d = padding
    else:
        padding_2d = (0, padding[0] if isinstance(padding, (tuple, list)) else padding)
    out = conv2d(
        input.unsqueeze(-2),
        weight.unsqueeze(-2),
        bias,
        (1, stride[0] if isinstance(stride, (tuple, list)) else stride),
        padding_2d,
        (1, dilation[0] if isinstance(dilation, (tuple, list)) else dilation),
        groups,
    )
    return out.squeeze(-2)


# --8<-- [end:conv1d]


# --8<-- [start:conv_transpose2d]
class _ConvTranspose2dFunction(torch.autograd.Function):
    """The transposed conv is a conv's input gradient; its own backward is that conv again."""

    @staticmethod
    def forward(ctx, input, weight, bias, size, stride, padding, dilation, groups):
        x = input.permute(0, 2, 3, 1)  # (N, H, W, C_in)
        out = _conv_input_grad_nhwc(x, weight, size, padding, stride, dilation, groups)
        ctx.save_for_backward(x.contiguous(), weight)
        ctx.config = (stride, padding, dilation, groups, bias is not None, input.shape[2:])
        ctx.memory_format = _memory_format(input)
        return _nchw(out, bias, ctx.memory_format)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        stride, (top, left), dilation, groups, has_bias, size = ctx.config
        n, _, height, width = grad_output.shape
        span_h = dilation[0] * (weight.shape[2] - 1) + 1
        span_w = dilation[1] * (weight.shape[3] - 1) + 1
        # pad so that the conv sees the full (padded) output the forward cropped from
        bottom = max(0, (size[0] - 1) * stride[0] + span_h - height - top)
        right = max(0, (size[1] - 1) * stride[1] + span_w - width - left)
        grad = _to_nhwc_padded(grad_output, top, bottom, left, right)
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _conv_nhwc(grad, weight, stride, dilation, groups)[:, : size[0], : size[1]]
            grad_input = _nchw(grad_x, None, ctx.memory_format)
        if ctx.needs_input_grad[1]:
            grad_weight = _conv_weight_grad_nhwc(
                grad, x, weight.shape[2:], stride, dilation, groups
            ).contiguous()
        if has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(dim=(0, 2, 3))
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """Transposed conv ``(N, C, H, W) -> (N, O, Ho, Wo)``, weight ``(C, O/g, kh, kw)``.

    ``Ho = (H − 1)·s − 2p + d(kh − 1) + output_padding + 1``: the size of the input a conv with
    the same arguments would map to ``H``; the output is that conv's input gradient.
    """
    batched = _check_conv(input, weight, groups, "conv_transpose2d", transposed=True)
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation, output_padding = _pair(dilation, "dilation"), _pair(output_padding)
    check_conv_arguments("conv_transpose2d", stride, padding, dilation)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(
                f"conv_transpose2d: output_padding must be smaller than stride or dilation, "
                f"got output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    size = tuple(
        (length - 1) * s - 2 * p + d * (k - 1) + op + 1
        for length, s, p, d, k, op in zip(
            batched.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding
        )
    )
    if min(size) <= 0:
        raise RuntimeError(f"conv_transpose2d: output size {size} is not positive")
    out = _ConvTranspose2dFunction.apply(
        batched, weight, bias, size, stride, padding, dilation, groups
    )
    return out if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:conv_transpose2d]


# --8<-- [start:deform_conv2d]
# --8<-- [start:core_bilinear]
def bilinear_sample(input, y, x):
    """Sample ``input (N, C, H, W)`` at real positions ``y, x (N, P)``; ``(N, C, P)``.

    ``v = Σ (1 − |y − y'|)(1 − |x − x'|) · input[y', x']`` over the four integer neighbours
    ``(y', x')``; neighbours outside the image read zero. Differentiable in ``y`` and ``x``.
    """
    n, channels, height, width = input.shape
    flat = input.reshape(n, channels, height * width)
    y0, x0 = y.floor(), x.floor()
    out = input.new_zeros(n, channels, y.shape[1])
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            weight = (1 - (y - yy).abs()) * (1 - (x - xx).abs())  # (N, P)
            inside = (yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)
            index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).long()
            values = flat.gather(2, index.unsqueeze(1).expand(n, channels, -1))
            out = out + values * (weight * inside).unsqueeze(1)
    return out


# --8<-- [end:core_bilinear]


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None):
    """Deformable conv (DCNv2 with ``mask``), as ``torchvision.ops.deform_conv2d``.

    ``groups = C / weight.shape[1]``, inferred from the weight as torchvision does.
    ``input (N, C, H, W)``, ``offset (N, 2·G·kh·kw, Ho, Wo)`` holding ``(Δy, Δx)`` per group
    ``G`` and tap, ``mask (N, G·kh·kw, Ho, Wo)``. Tap ``(u, v)`` of output ``(i, j)`` reads
    ``x`` at ``(i·s − p + u·d + Δy, j·s − p + v·d + Δx)`` by bilinear sampling, times the mask.
    """
    if input.dim() not in (3, 4) or weight.dim() != 4 or input.shape[-3] % weight.shape[1]:
        raise ValueError(
            f"deform_conv2d expects (N, C, H, W) input, C a multiple of weight.shape[1], "
            f"got input {tuple(input.shape)} and weight {tuple(weight.shape)}"
        )
    groups = input.shape[-3] // weight.shape[1]  # inferred, as torchvision does
    batched = _check_conv(input, weight, groups, "deform_conv2d")
    n, channels, height, width = batched.shape
    out_channels, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    out_h = conv_output_size(height, kh, sh, ph, dh)
    out_w = conv_output_size(width, kw, sw, pw, dw)
    taps = kh * kw
    if (
        offset.dim() != 4
        or offset.shape[1] % (2 * taps)
        or offset.shape[0] != n
        or tuple(offset.shape[2:]) != (out_h, out_w)
    ):
        raise ValueError(
            f"deform_conv2d expects offset of shape (N={n}, 2·G·{kh}·{kw}, {out_h}, {out_w}) "
            f"for G offset groups, got {tuple(offset.shape)}"
        )
    offset_groups = offset.shape[1] // (2 * taps)
    if channels % offset_groups:
        raise ValueError(
            f"deform_conv2d: {offset_groups} offset groups must divide {channels} channels"
        )
    if mask is not None and tuple(mask.shape) != (n, offset_groups * taps, out_h, out_w):
        raise ValueError(
            f"deform_conv2d expects mask of shape {(n, offset_groups * taps, out_h, out_w)}, "
            f"got {tuple(mask.shape)}"
        )
    # the regular grid of every tap at every output position: (kh·kw, Ho·Wo)
    rows = torch.arange(out_h, device=input.device, dtype=input.dtype) * sh - ph
    cols = torch.arange(out_w, device=input.device, dtype=input.dtype) * sw - pw
    tap_rows = torch.arange(kh, device=input.device, dtype=input.dtype) * dh
    tap_cols = torch.arange(kw, device=input.device, dtype=input.dtype) * dw
    grid_y = (tap_rows.view(kh, 1, 1, 1) + rows.view(1, 1, out_h, 1)).expand(
        kh, kw, out_h, out_w
    )
    grid_x = (tap_cols.view(1, kw, 1, 1) + cols.view(1, 1, 1, out_w)).expand(
        kh, kw, out_h, out_w
    )
    offset = offset.reshape(n, offset_groups, taps, 2, out_h * out_w)
    y = grid_y.reshape(1, 1, taps, -1) + offset[:, :, :, 0]  # (N, G, taps, Ho·Wo)
    x = grid_x.reshape(1, 1, taps, -1) + offset[:, :, :, 1]
    per_group = channels // offset_groups
    grouped = batched.reshape(n * offset_groups, per_group, height, width)
    samples = bilinear_sample(
        grouped, y.reshape(n * offset_groups, -1), x.reshape(n * offset_groups, -1)
    ).view(n, offset_groups, per_group, taps, out_h * out_w)
    if mask is not None:
        samples = samples * mask.view(n, offset_groups, 1, taps, out_h * out_w)
    # the im2col matrix of the sampled windows, one matmul per group
    columns = samples.reshape(n, groups, channels // groups * taps, out_h * out_w)
    out = weight.reshape(groups, out_channels // groups, -1) @ columns
    out = out.view(n, out_channels, out_h, out_w)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out if input.dim() == 4 else out.squeeze(0)


# --8<-- [end:deform_conv2d]


# --8<-- [start:octave_conv2d]
def _upsample2(x):
    """Nearest-neighbour ×2: every pixel becomes a 2×2 block."""
    return x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)


def octave_conv2d(
    input, input_low, weight, bias=None, out_low=0, stride=1, padding=0, dilation=1
):
    """Octave conv: ``(high, low)`` maps, the low one at half resolution, ``-> (high, low)``.

    ``weight (O, C, k, k)`` is cut at the high/low channel boundaries into four blocks; the
    two blocks that read the low map run as one conv (they share their input).
    """
    in_high = input.shape[-3]
    out_high = weight.shape[0] - out_low
    if stride == 2:  # an octave conv strides by pooling both maps first
        input = avg_pool2d(input, 2)
        input_low = None if input_low is None else avg_pool2d(input_low, 2)
    high = conv2d(input, weight[:out_high, :in_high], None, 1, padding, dilation)
    low = None
    if input_low is not None:  # low→high and low→low at once, then split
        from_low = conv2d(input_low, weight[:, in_high:], None, 1, padding, dilation)
        high = high + _upsample2(from_low[..., :out_high, :, :])
        low = from_low[..., out_high:, :, :]
    if out_low:
        pooled = avg_pool2d(input, 2)
        from_high = conv2d(pooled, weight[out_high:, :in_high], None, 1, padding, dilation)
        low = from_high if low is None else low + from_high
    if bias is not None:
        high = high + bias[:out_high].view(-1, 1, 1)
        low = None if low is None else low + bias[out_high:].view(-1, 1, 1)
    return high if not out_low else (high, low)


# --8<-- [end:octave_conv2d]
