"""Vanilla RNN and LSTM: one step and a whole sequence, forward and backward.

Shapes: x (N, D) per step or (N, T, D) per sequence, hidden state h (N, H). LSTM weights pack
the gates in the order i, f, o, g (input, forget, output, candidate) along their last axis,
Wx (D, 4H), Wh (H, 4H), b (4H,). PyTorch's ``nn.LSTM`` packs i, f, g, o, and stores the
transposes: copying weights across needs both the transpose and the reordering.
"""

import numpy as np

__all__ = [
    "sigmoid",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
]


def sigmoid(x):
    """1 / (1 + e^−x), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --8<-- [start:rnn_step]
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b): x (N, D), prev_h (N, H) → next_h (N, H)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """(dx, dprev_h, dWx, dWh, db), through tanh' = 1 − tanh²."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# --8<-- [end:rnn_step]


# --8<-- [start:rnn_sequence]
def rnn_forward(x, h0, Wx, Wh, b):
    """Run ``rnn_step_forward`` over T steps: x (N, T, D), h0 (N, H) → h (N, T, H)."""
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.result_type(x, h0))
    caches, prev_h = [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    """dh (N, T, H), the upstream gradient of every hidden state → (dx, dh0, dWx, dWh, db).

    Backpropagation through time: step t receives dh[:, t] plus what step t+1 sent back.
    """
    x, _, Wx, Wh, _ = caches[0]
    dx = np.zeros((*dh.shape[:2], x.shape[1]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1], dtype=dh.dtype)
    dprev_h = np.zeros_like(dh[:, 0])
    for t in reversed(range(dh.shape[1])):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


# --8<-- [end:rnn_sequence]


# --8<-- [start:lstm_step]
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step → (next_h, next_c, cache).

    a = x Wx + prev_h Wh + b split into i, f, o, g; i, f, o = σ(·), g = tanh(·);
    next_c = f ⊙ prev_c + i ⊙ g;  next_h = o ⊙ tanh(next_c).
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """(dx, dprev_h, dprev_c, dWx, dWh, db) of one LSTM step."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    da = np.concatenate(
        [
            dc * g * i * (1 - i),  # input gate
            dc * prev_c * f * (1 - f),  # forget gate
            dnext_h * tanh_c * o * (1 - o),  # output gate
            dc * i * (1 - g**2),  # candidate
        ],
        axis=1,
    )
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# --8<-- [end:lstm_step]


# --8<-- [start:lstm_sequence]
def lstm_forward(x, h0, Wx, Wh, b):
    """Run ``lstm_step_forward`` over T steps from h0 and c0 = 0: x (N, T, D) → h (N, T, H)."""
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.result_type(x, h0))
    prev_h, prev_c, caches = h0, np.zeros_like(h0), []
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    """dh (N, T, H) → (dx, dh0, dWx, dWh, db); the cell state's gradient flows back too."""
    x, _, _, Wx, Wh = caches[0][:5]
    dx = np.zeros((*dh.shape[:2], x.shape[1]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1], dtype=dh.dtype)
    dprev_h, dprev_c = np.zeros_like(dh[:, 0]), np.zeros_like(dh[:, 0])
    for t in reversed(range(dh.shape[1])):
        grads = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dx[:, t], dprev_h, dprev_c = grads[:3]
        dWx, dWh, db = dWx + grads[3], dWh + grads[4], db + grads[5]
    return dx, dprev_h, dWx, dWh, db


# --8<-- [end:lstm_sequence]
