"""Losses that return ``(loss, dx)``: softmax (cross-entropy), multiclass SVM, and the temporal
softmax loss with a mask."""

import numpy as np

__all__ = ["softmax_loss", "svm_loss", "temporal_softmax_loss"]


# --8<-- [start:softmax_loss]
def softmax_loss(x, y):
    """Mean cross-entropy of scores x (N, C) for labels y (N,), and dx (N, C).

    loss = −(1/N) Σₙ log softmax(xₙ)[yₙ];  dx = (softmax(x) − onehot(y)) / N.
    """
    shifted = x - x.max(axis=1, keepdims=True)  # e^x of a large score would overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


# --8<-- [end:softmax_loss]


# --8<-- [start:svm_loss]
def svm_loss(x, y):
    """Multiclass hinge loss of scores x (N, C), labels y (N,), and dx (N, C).

    loss = (1/N) Σₙ Σ_{j≠yₙ} max(0, xₙⱼ − xₙ,yₙ + 1). PyTorch's ``multi_margin_loss`` also
    divides by C.
    """
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] = -positive.sum(axis=1)
    return loss, positive / N


# --8<-- [end:svm_loss]


# --8<-- [start:temporal_softmax_loss]
def temporal_softmax_loss(x, y, mask):
    """Softmax loss at every time step: x (N, T, V), y (N, T), mask (N, T) of booleans.

    loss = −(1/N) Σₙ Σₜ maskₙₜ log softmax(xₙₜ)[yₙₜ] — summed over time, averaged over N.
    """
    N, T, V = x.shape
    flat_x, flat_y, flat_mask = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    shifted = flat_x - flat_x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(flat_mask * log_probs[np.arange(N * T), flat_y]).sum() / N
    dx = np.exp(log_probs)
    dx[np.arange(N * T), flat_y] -= 1
    dx *= flat_mask[:, None]  # not `mask / N`: under torch.compile bool / int is float32
    dx /= N
    return loss, dx.reshape(N, T, V)


# --8<-- [end:temporal_softmax_loss]
