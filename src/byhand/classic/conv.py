"""Convolution: naive loops, and the fast strided im2col (any stride and padding).

x (N, C, H, W), w (F, C, HH, WW), b (F,) → out (N, F, H', W') with
H' = ⌊(H + 2·pad − HH) / stride⌋ + 1 (floored, as PyTorch does) and likewise W'.
"""

import numpy as np

__all__ = [
    "conv_output_size",
    "conv_forward_naive",
    "conv_backward_naive",
    "strided_view",
    "im2col_view",
    "conv_forward_fast",
    "conv_backward_fast",
]


def conv_output_size(size, kernel, stride, pad):
    """⌊(size + 2·pad − kernel) / stride⌋ + 1, or a clear error when the kernel does not fit."""
    if stride < 1 or pad < 0:
        raise ValueError(
            f"conv expects stride >= 1 and pad >= 0, got stride={stride}, pad={pad}"
        )
    if size + 2 * pad < kernel:
        raise ValueError(
            f"conv: kernel {kernel} is larger than the padded input {size} + 2·{pad}"
        )
    return (size + 2 * pad - kernel) // stride + 1


# --8<-- [start:conv_naive]
def conv_forward_naive(x, w, b, stride=1, pad=0):
    """out[n, f, i, j] = Σ_{c, p, q} x_pad[n, c, i·s + p, j·s + q] · w[f, c, p, q] + b[f]."""
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(f"conv: x has C={C} channels but w expects {C_w}")
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = x_pad[
                        n, :, i * stride : i * stride + HH, j * stride : j * stride + WW
                    ]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_backward_naive(dout, cache):
    """Each output element sends dout · w back to its window of x, and dout · window to w."""
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


# --8<-- [end:conv_naive]


# --8<-- [start:conv_fast]
def strided_view(a, shape, strides):
    """A read-only view of C-contiguous ``a``'s memory, any shape and strides (bytes): no copy.

    ``np.ndarray`` over ``a``'s buffer rather than ``np.lib.stride_tricks.as_strided``, which
    ``torch.compile`` cannot trace through (it stops with an AssertionError, torch 2.13) while
    this makes it fall back to NumPy, so the compiled result is the eager one.
    """
    view = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
    view.flags.writeable = False  # windows overlap: a write through one would change many
    return view


def im2col_view(x_pad, HH, WW, stride, Ho, Wo):
    """A strided view (C, HH, WW, N, Ho, Wo) of x_pad (N, C, Hp, Wp), no copy:
    view[c, p, q, n, i, j] = x_pad[n, c, i·stride + p, j·stride + q]."""
    x_pad = np.ascontiguousarray(x_pad)
    sN, sC, sH, sW = x_pad.strides
    N, C = x_pad.shape[:2]
    shape = (C, HH, WW, N, Ho, Wo)
    return strided_view(x_pad, shape, (sC, sH, sW, sN, stride * sH, stride * sW))


def conv_forward_fast(x, w, b, stride=1, pad=0):
    """The same convolution as one matrix product: w (F, C·HH·WW) @ cols (C·HH·WW, N·H'·W')."""
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(f"conv: x has C={C} channels but w expects {C_w}")
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = im2col_view(x_pad, HH, WW, stride, Ho, Wo).reshape(C * HH * WW, N * Ho * Wo)
    out = w.reshape(F, -1) @ cols
    out += b[:, None]  # in place: no second (F, N·H'·W') array
    return out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3), (x.shape, w, cols, stride, pad)


def conv_backward_fast(dout, cache):
    """dw = dout (F, N·H'·W') @ colsᵀ; dx: each of the HH·WW kernel offsets adds its slice."""
    (N, C, H, W), w, cols, stride, pad = cache
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout_rows @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_rows).reshape(C, HH, WW, N, Ho, Wo)
    dx_pad = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for p in range(HH):
        for q in range(WW):
            rows = slice(p, p + stride * (Ho - 1) + 1, stride)
            columns = slice(q, q + stride * (Wo - 1) + 1, stride)
            dx_pad[:, :, rows, columns] += dcols[:, p, q]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].transpose(1, 0, 2, 3)
    return dx, dw, dout_rows.sum(axis=1)


# --8<-- [end:conv_fast]
