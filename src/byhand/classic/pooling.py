"""Max pooling: naive loops, and fast (a reshape when the windows tile the input, a strided
im2col view otherwise). x (N, C, H, W) → (N, C, H', W'), H' = ⌊(H − ph) / stride⌋ + 1.

The gradient of each window goes to ONE element, its first maximum in row-major order, as in
PyTorch; a mask ``window == max`` would send it to every tied element.
"""

import numpy as np

from byhand.classic.conv import strided_view

__all__ = [
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
]


def _pool_output_size(H, W, pool_height, pool_width, stride):
    if stride < 1 or pool_height > H or pool_width > W:
        raise ValueError(
            f"max pool: a {pool_height}x{pool_width} window with stride {stride} does not fit "
            f"an input of height {H} and width {W}"
        )
    return (H - pool_height) // stride + 1, (W - pool_width) // stride + 1


# --8<-- [start:pool_naive]
def max_pool_forward_naive(x, pool_height=2, pool_width=2, stride=2):
    """out[n, c, i, j] = max of x[n, c] over the window at (i·stride, j·stride)."""
    N, C, H, W = x.shape
    Ho, Wo = _pool_output_size(H, W, pool_height, pool_width, stride)
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, s = i * stride, j * stride
                    out[n, c, i, j] = x[n, c, r : r + pool_height, s : s + pool_width].max()
    return out, (x, pool_height, pool_width, stride)


def max_pool_backward_naive(dout, cache):
    """dx: each dout[n, c, i, j] goes to the first maximum of its window."""
    x, pool_height, pool_width, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, s = i * stride, j * stride
                    window = x[n, c, r : r + pool_height, s : s + pool_width]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, r + p, s + q] += dout[n, c, i, j]
    return dx


# --8<-- [end:pool_naive]


# --8<-- [start:pool_fast]
def max_pool_forward_fast(x, pool_height=2, pool_width=2, stride=2):
    """Windows as the last axis of a (N, C, H', W', ph·pw) array, then one argmax."""
    N, C, H, W = x.shape
    Ho, Wo = _pool_output_size(H, W, pool_height, pool_width, stride)
    tiles = pool_height == pool_width == stride and H % stride == 0 and W % stride == 0
    if tiles:  # the windows tile the input: a reshape, no strided view
        windows = x.reshape(N, C, Ho, pool_height, Wo, pool_width).transpose(0, 1, 2, 4, 3, 5)
    else:
        x = np.ascontiguousarray(x)
        sN, sC, sH, sW = x.strides
        shape = (N, C, Ho, Wo, pool_height, pool_width)
        windows = strided_view(x, shape, (sN, sC, stride * sH, stride * sW, sH, sW))
    windows = windows.reshape(N, C, Ho, Wo, pool_height * pool_width)
    argmax = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]
    return out, (x.shape, argmax, pool_height, pool_width, stride, tiles)


def max_pool_backward_fast(dout, cache):
    """Tiling windows: put dout at each argmax and undo the reshape. Overlapping windows: one
    strided add per window offset (ph·pw of them)."""
    (N, C, H, W), argmax, pool_height, pool_width, stride, tiles = cache
    Ho, Wo = dout.shape[2:]
    if tiles:
        dwindows = np.zeros((N, C, Ho, Wo, pool_height * pool_width), dtype=dout.dtype)
        np.put_along_axis(dwindows, argmax[..., None], dout[..., None], axis=-1)
        dwindows = dwindows.reshape(N, C, Ho, Wo, pool_height, pool_width)
        return dwindows.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    for p in range(pool_height):
        for q in range(pool_width):
            rows = slice(p, p + stride * (Ho - 1) + 1, stride)
            columns = slice(q, q + stride * (Wo - 1) + 1, stride)
            dx[:, :, rows, columns] += dout * (argmax == p * pool_width + q)
    return dx


# --8<-- [end:pool_fast]
