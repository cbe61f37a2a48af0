"""Batch norm (two backwards), layer norm, spatial batch norm and spatial group norm.

Running statistics follow the CS231n convention: ``momentum=0.9`` KEEPS 90% of the old value
(PyTorch's ``momentum=0.1`` takes 10% of the new one: the same update). Like PyTorch, the
running variance is updated with the unbiased batch variance, while the batch is normalised
with the biased one.
"""

import numpy as np

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
]


# --8<-- [start:normalized_backward]
def normalized_backward(dx_hat, x_hat, inv_std, axis):
    """∂L/∂x of x̂ = (x − mean) · inv_std, where mean and std are taken over ``axis``.

    dx = inv_std · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), every mean over ``axis``.
    """
    mean_dx_hat = dx_hat.mean(axis=axis, keepdims=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=axis, keepdims=True)
    return inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)


# --8<-- [end:normalized_backward]


# --8<-- [start:batchnorm_forward]
def batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, D) → γ · (x − μ_B) / √(σ²_B + ε) + β in train mode; running stats in test mode.

    ``bn_param``: ``mode`` ('train' or 'test'), ``eps`` (1e-5), ``momentum`` (0.9: the share of
    the old running value kept), ``running_mean`` and ``running_var`` (created as 0 and 1,
    updated in place of the dict).
    """
    mode = bn_param.get("mode", "train")
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", np.ones(D, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0)
        centred = x - mean
        var = (centred**2).mean(axis=0)  # biased: what the batch is normalised with
        std = np.sqrt(var + eps)
        inv_std = 1 / std
        x_hat = centred * inv_std
        unbiased = var * N / max(N - 1, 1)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * unbiased
        cache = (x_hat, gamma, centred, std, inv_std, var, eps)
    elif mode == "test":
        inv_std = 1 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
        cache = (x_hat, gamma, None, None, inv_std, None, eps)  # statistics are constants
    else:
        raise ValueError(f"batchnorm_forward expects mode 'train' or 'test', got {mode!r}")
    return gamma * x_hat + beta, cache


# --8<-- [end:batchnorm_forward]


# --8<-- [start:batchnorm_backward]
def batchnorm_backward(dout, cache):
    """Step by step through the graph x → centred → var → std → inv_std → x̂ → out.

    Returns (dx (N, D), dgamma (D,), dbeta (D,)).
    """
    x_hat, gamma, centred, std, inv_std, var, eps = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if centred is None:  # test mode: x̂ = (x − running_mean) · inv_std, a fixed affine map
        return dx_hat * inv_std, dgamma, dbeta
    # x̂ = centred · inv_std: two paths
    dinv_std = (dx_hat * centred).sum(axis=0)
    dcentred = dx_hat * inv_std
    # inv_std = 1 / std,  std = √(var + ε),  var = mean(centred²)
    dstd = -dinv_std / std**2
    dvar = dstd * 0.5 / np.sqrt(var + eps)
    dcentred += dvar * 2 * centred / N
    # centred = x − mean(x)
    dx = dcentred - dcentred.mean(axis=0)
    return dx, dgamma, dbeta


# --8<-- [end:batchnorm_backward]


# --8<-- [start:batchnorm_backward_alt]
def batchnorm_backward_alt(dout, cache):
    """The same gradient in closed form.

    ``dx = (1/σ) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))``.
    """
    x_hat, gamma, centred, _, inv_std, _, _ = cache
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    if centred is None:  # test mode
        return dout * gamma * inv_std, dgamma, dbeta
    dx = normalized_backward(dout * gamma, x_hat, inv_std, axis=0)
    return dx, dgamma, dbeta


# --8<-- [end:batchnorm_backward_alt]


# --8<-- [start:layernorm]
def layernorm_forward(x, gamma, beta, ln_param=None):
    """x (N, D) normalised over each row's D features: γ · (x − μₙ) / √(σ²ₙ + ε) + β.

    The same in train and test: no running statistics. ``ln_param``: ``eps`` (1e-5).
    """
    eps = (ln_param or {}).get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(dout, cache):
    """(dx (N, D), dgamma (D,), dbeta (D,)): batch norm's closed form over the other axis."""
    x_hat, gamma, inv_std = cache
    dx = normalized_backward(dout * gamma, x_hat, inv_std, axis=1)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --8<-- [end:layernorm]


# --8<-- [start:spatial_batchnorm]
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, C, H, W): batch norm per channel over N, H and W; gamma, beta (C,)."""
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)  # (N·H·W, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    """(dx (N, C, H, W), dgamma (C,), dbeta (C,)) through the same reshape."""
    N, C, H, W = dout.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(rows, cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


# --8<-- [end:spatial_batchnorm]


# --8<-- [start:spatial_groupnorm]
def spatial_groupnorm_forward(x, gamma, beta, num_groups, gn_param=None):
    """x (N, C, H, W): normalise each sample over each group of C/G channels and H, W.

    gamma, beta (C,) scale and shift per channel afterwards. ``gn_param``: ``eps`` (1e-5).
    """
    N, C, H, W = x.shape
    if C % num_groups:
        raise ValueError(f"spatial_groupnorm_forward: C={C} is not divisible by G={num_groups}")
    eps = (gn_param or {}).get("eps", 1e-5)
    grouped = x.reshape(N, num_groups, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(grouped.var(axis=2, keepdims=True) + eps)
    x_hat = ((grouped - mean) * inv_std).reshape(x.shape)
    out = gamma[:, None, None] * x_hat + beta[:, None, None]
    return out, (x_hat, gamma, inv_std, num_groups)


def spatial_groupnorm_backward(dout, cache):
    """(dx (N, C, H, W), dgamma (C,), dbeta (C,)): the closed form, per sample and group."""
    x_hat, gamma, inv_std, num_groups = cache
    N = dout.shape[0]
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))
    dbeta = dout.sum(axis=(0, 2, 3))
    dx_hat = (dout * gamma[:, None, None]).reshape(N, num_groups, -1)
    dx = normalized_backward(dx_hat, x_hat.reshape(N, num_groups, -1), inv_std, axis=2)
    return dx.reshape(dout.shape), dgamma, dbeta


# --8<-- [end:spatial_groupnorm]
