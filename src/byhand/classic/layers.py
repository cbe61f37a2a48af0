"""Affine, ReLU, dropout, word embedding and temporal affine layers with explicit backward.

Every layer is a pair: ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) ->
gradients`` in the order of the forward's array arguments.
"""

import numpy as np

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "dropout_forward",
    "dropout_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
]


# --8<-- [start:affine]
def affine_forward(x, w, b):
    """x (N, d1, ..., dk) flattened to (N, D), w (D, M), b (M,) → out = x w + b, (N, M)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    """dout (N, M) → (dx like x, dw (D, M), db (M,)): dout wᵀ, xᵀ dout, Σₙ dout."""
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


# --8<-- [end:affine]


# --8<-- [start:relu]
def relu_forward(x):
    """out = max(0, x), any shape."""
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0 (the subgradient at 0 is taken as 0, as PyTorch does)."""
    x = cache
    return dout * (x > 0)


# --8<-- [end:relu]


def affine_relu_forward(x, w, b):
    """relu(affine(x)): the sandwich layer of the fully connected net."""
    a, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward of ``affine_relu_forward``: (dx, dw, db)."""
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache)


# --8<-- [start:dropout]
def dropout_forward(x, keep_prob, train=True, rng=None):
    """Inverted dropout: keep each unit with probability ``keep_prob`` and divide by it.

    ``keep_prob`` is the probability of KEEPING a unit (PyTorch's ``p`` is the probability of
    dropping one). In test mode (``train=False``) the layer is the identity.
    """
    if not 0 < keep_prob <= 1:
        raise ValueError(f"dropout_forward expects 0 < keep_prob <= 1, got {keep_prob}")
    if not train:
        return x, None
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(x.shape) < keep_prob) / keep_prob
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout · mask (the same scaled mask the forward used); identity in test mode."""
    mask = cache
    return dout if mask is None else dout * mask


# --8<-- [end:dropout]


# --8<-- [start:word_embedding]
def word_embedding_forward(x, W):
    """Integer indices x (N, T) into the table W (V, D) → out (N, T, D) = W[x]."""
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    """dW (V, D): each row sums the dout of every position that picked it (np.add.at)."""
    x, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW


# --8<-- [end:word_embedding]


# --8<-- [start:temporal_affine]
def temporal_affine_forward(x, w, b):
    """The same affine map at every time step: x (N, T, D), w (D, M), b (M,) → (N, T, M)."""
    return x @ w + b, (x, w)


def temporal_affine_backward(dout, cache):
    """dout (N, T, M) → (dx (N, T, D), dw (D, M), db (M,)), summing over N and T."""
    x, w = cache
    D, M = w.shape
    dx = dout @ w.T
    dw = x.reshape(-1, D).T @ dout.reshape(-1, M)
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


# --8<-- [end:temporal_affine]
