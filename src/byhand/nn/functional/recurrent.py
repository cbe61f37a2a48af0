"""Recurrent cells and the loop that runs them over a sequence: RNN, LSTM, GRU.

Each cell is written as a *step*: the input's contribution ``x W_ihᵀ + b_ih`` is computed for
all time steps at once (one big matmul), and the step adds the hidden state's contribution and
applies the gates. The cells (``lstm_cell``, ...) are the same step with the input projection
done on the spot. Gate order is PyTorch's: LSTM ``i, f, g, o``; GRU ``r, z, n``.
``torch.sigmoid`` and ``torch.tanh`` are used as element-wise primitives, like ``torch.exp``.
"""

import torch

from byhand.nn.functional.dropout import dropout
from byhand.nn.functional.linear import linear

__all__ = [
    "rnn_step",
    "lstm_step",
    "gru_step",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "lstm_cell",
    "gru_cell",
    "recurrent_layer",
    "recurrent",
    "LSTMSequence",
]


# --8<-- [start:steps]
def rnn_step(gates_x, h, w_hh, b_hh=None, nonlinearity="tanh"):
    """Elman step: ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``; ``gates_x`` is the first half.

    Shapes: ``gates_x (N, H)``, ``h (N, H)``, ``w_hh (H, H)``. ``addmm(a, h, Wᵀ)`` is
    ``a + h Wᵀ`` in one call (fewer calls per step is most of a recurrent layer's speed).
    """
    pre = torch.addmm(gates_x, h, w_hh.t())
    if b_hh is not None:
        pre = pre + b_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(gates_x, h, c, w_hh, b_hh=None, w_hr=None):
    """LSTM step; ``gates_x (N, 4H)`` holds ``x W_ihᵀ + b_ih`` for the gates ``i, f, g, o``.

    ``i, f, o = σ(·)``, ``g = tanh(·)``; ``c' = f ⊙ c + i ⊙ g``; ``h' = o ⊙ tanh(c')``, then
    ``h' W_hrᵀ`` when there is a projection (``proj_size > 0``). Returns ``(h', c')``. One
    ``sigmoid`` over all four gates (the ``g`` quarter is unused) is cheaper than three.
    """
    gates = torch.addmm(gates_x, h, w_hh.t())
    if b_hh is not None:
        gates = gates + b_hh
    i, f, _, o = torch.sigmoid(gates).chunk(4, dim=-1)
    g = torch.tanh(gates.narrow(-1, 2 * c.shape[-1], c.shape[-1]))
    c_next = torch.addcmul(f * c, i, g)  # f ⊙ c + i ⊙ g
    h_next = o * torch.tanh(c_next)
    if w_hr is not None:
        h_next = h_next @ w_hr.t()
    return h_next, c_next


def gru_step(gates_x, h, w_hh, b_hh=None):
    """GRU step; ``gates_x (N, 3H)`` holds ``x W_ihᵀ + b_ih`` for ``r, z, n``.

    ``r = σ(x_r + h_r)``, ``z = σ(x_z + h_z)``, ``n = tanh(x_n + r ⊙ (h W_hnᵀ + b_hn))``,
    ``h' = (1 - z) ⊙ n + z ⊙ h``. The reset gate multiplies ``h W_hnᵀ + b_hn``, bias included.
    """
    x_rz, x_n = gates_x.split([2 * h.shape[-1], h.shape[-1]], dim=-1)
    h_rz, h_n = linear(h, w_hh, b_hh).split([2 * h.shape[-1], h.shape[-1]], dim=-1)
    r, z = torch.sigmoid(x_rz + h_rz).chunk(2, dim=-1)
    n = torch.tanh(torch.addcmul(x_n, r, h_n))
    return torch.lerp(n, h, z)  # n + z ⊙ (h - n)


# --8<-- [end:steps]


# --8<-- [start:cells]
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with ``tanh``: ``(N, C)``, ``(N, H)`` → ``(N, H)``."""
    return rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "tanh")


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with ``relu``: ``(N, C)``, ``(N, H)`` → ``(N, H)``."""
    return rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "relu")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: ``(N, C)`` and ``hx = (h, c)`` → ``(h', c')``."""
    h, c = hx
    return lstm_step(linear(input, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: ``(N, C)``, ``(N, H)`` → ``(N, H)``."""
    return gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# --8<-- [end:cells]


# --8<-- [start:lstm_sequence]
class LSTMSequence(torch.autograd.Function):
    """A whole LSTM layer in one direction, with backpropagation through time by hand.

    ``gates_x (T, N, 4H)`` holds ``x W_ihᵀ + b_ih + b_hh``; returns ``(h_1..h_T, h_T, c_T)``.
    The forward pass keeps the activated gates ``i, f, g, o`` and the cell states. Going back,
    with ``h̄``, ``c̄`` the gradients reaching step ``t``:
    ``c̄ += h̄ ⊙ o ⊙ (1 − tanh² c)``, ``ḡates = (c̄ ⊙ g, c̄ ⊙ c_prev, c̄ ⊙ i, h̄ ⊙ tanh c)``
    times each activation's derivative, ``c̄ ← c̄ ⊙ f``, ``h̄ ← ḡates W_hh``. Every factor that
    does not depend on ``h̄``, ``c̄`` is computed for all steps at once before the loop, and
    ``W̄_hh = Σ_t ḡates_tᵀ h_{t−1}`` is one matmul after it: a handful of calls per step,
    where autograd would record some twenty nodes and a small weight matmul per step.
    """

    @staticmethod
    def forward(ctx, gates_x, h0, c0, w_hh, reverse):
        steps, hidden = gates_x.shape[0], c0.shape[-1]
        acts = torch.empty_like(gates_x)  # σ(i), σ(f), tanh(g), σ(o) of every step
        hs = gates_x.new_empty(steps, *h0.shape)
        cs = gates_x.new_empty(steps, *c0.shape)
        inputs, act, h_out, c_out = (x.unbind(0) for x in (gates_x, acts, hs, cs))
        h, c, w_t = h0, c0, w_hh.t()
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            gates = torch.addmm(inputs[t], h, w_t)
            torch.sigmoid(gates, out=act[t])
            g_part = slice(2 * hidden, 3 * hidden)  # (an out= column slice breaks the graph)
            act[t][:, g_part].copy_(gates[:, g_part].tanh())
            i, f, g, o = act[t].chunk(4, dim=-1)
            c = torch.addcmul(f * c, i, g, out=c_out[t])
            h = torch.mul(o, torch.tanh(c), out=h_out[t])
        ctx.save_for_backward(acts, hs, cs, h0, c0, w_hh)
        ctx.reverse = reverse
        return hs, h.clone(), c.clone()  # not views of the saved states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_hs, grad_h, grad_c):
        acts, hs, cs, h0, c0, w_hh = ctx.saved_tensors
        steps, hidden = acts.shape[0], c0.shape[-1]

        def started_from(states, initial):  # the state each step started from
            if ctx.reverse:
                return torch.cat([states[1:], initial[None]])
            return torch.cat([initial[None], states[:-1]])

        c_prev = started_from(cs, c0)
        i, f, g, o = acts.chunk(4, dim=-1)
        tanh_c = torch.tanh(cs)
        slope = acts * (1 - acts)  # σ' = σ(1 − σ) for i, f, o; tanh' = 1 − tanh² for g
        slope[..., 2 * hidden : 3 * hidden] = 1 - g * g
        through_c = torch.cat([g, c_prev, i, tanh_c], dim=-1).mul_(slope)
        through_h = o * (1 - tanh_c * tanh_c)  # ∂h/∂c
        grad_gates = torch.empty_like(acts)
        dh = torch.zeros_like(h0) if grad_h is None else grad_h.clone()
        dc = torch.zeros_like(c0) if grad_c is None else grad_c.clone()
        rows = [x.unbind(0) for x in (grad_gates, through_c, through_h, f)]
        out_rows = grad_hs.unbind(0) if grad_hs is not None else None
        for t in range(steps) if ctx.reverse else range(steps - 1, -1, -1):
            if out_rows is not None:
                dh = dh + out_rows[t]
            dc.addcmul_(dh, rows[2][t])
            torch.mul(torch.cat([dc, dc, dc, dh], dim=-1), rows[1][t], out=rows[0][t])
            dc.mul_(rows[3][t])
            dh = rows[0][t] @ w_hh
        h_prev = started_from(hs, h0)
        grad_w = grad_gates.flatten(0, 1).t() @ h_prev.flatten(0, 1)
        return grad_gates, dh, dc, grad_w, None


# --8<-- [end:lstm_sequence]


# --8<-- [start:recurrent]
def _step(mode, gates_x, state, w_hh, b_hh, w_hr):
    """One step of ``mode`` on the state tuple ``(h,)`` or ``(h, c)``; the new tuple."""
    if mode == "LSTM":
        return lstm_step(gates_x, *state, w_hh, b_hh, w_hr)
    if mode == "GRU":
        return (gru_step(gates_x, state[0], w_hh, b_hh),)
    return (rnn_step(gates_x, state[0], w_hh, b_hh, mode.removeprefix("RNN_").lower()),)


def recurrent_layer(input, state, weights, mode, reverse=False, batch_sizes=None):
    """Run one layer in one direction over ``input (T, N, C)``; returns ``(output, state)``.

    ``weights = (w_ih, w_hh, b_ih, b_hh, w_hr)`` (biases and ``w_hr`` may be ``None``);
    ``state`` is ``h (N, H)`` or, for an LSTM, ``(h, c)``. The input projection of every step
    is one matmul; ``unbind`` hands out its rows, so the backward pass gathers them with one
    ``stack``. With ``batch_sizes`` (a ``PackedSequence``'s), ``input`` is the packed data
    ``(sum of lengths, C)``: step ``t`` holds the first ``batch_sizes[t]`` sequences (sorted by
    length), so a sequence that has ended leaves the batch with its final state, and in
    reverse a sequence joins the batch, from its initial state, at its own last step.
    """
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    gates = linear(input, w_ih, b_ih)
    if b_hh is not None and mode != "GRU":  # add b_hh once, not once per step (a GRU's
        gates, b_hh = gates + b_hh, None  # reset gate multiplies its share: it stays)
    lstm = mode == "LSTM"
    if lstm and w_hr is None and batch_sizes is None and len(gates) > 0:
        output, h, c = LSTMSequence.apply(gates, *state, w_hh, reverse)
        return output, (h, c)
    steps = gates.unbind(0) if batch_sizes is None else gates.split(batch_sizes.tolist())
    initial = tuple(state) if lstm else (state,)
    outputs = [None] * len(steps)
    if reverse:  # the batch grows: rows join from their initial state
        state = tuple(s[: len(steps[-1])] for s in initial) if steps else initial
        for t in range(len(steps) - 1, -1, -1):
            size, have = len(steps[t]), len(state[0])
            if size > have:
                state = tuple(torch.cat([s, s0[have:size]]) for s, s0 in zip(state, initial))
            state = _step(mode, steps[t], state, w_hh, b_hh, w_hr)
            outputs[t] = state[0]
    else:  # the batch shrinks: rows that ended keep their final state aside
        state, ended = initial, []
        for t in range(len(steps)):
            size = len(steps[t])
            if size < len(state[0]):
                ended.append(tuple(s[size:] for s in state))
                state = tuple(s[:size] for s in state)
            state = _step(mode, steps[t], state, w_hh, b_hh, w_hr)
            outputs[t] = state[0]
        if ended:
            state = tuple(torch.cat(parts) for parts in zip(state, *reversed(ended)))
    state = state if lstm else state[0]
    if not outputs:  # an empty sequence: no output rows, the state passes through
        width = initial[0].shape[-1]
        return input.new_zeros(0, *input.shape[1:-1], width), state
    return (torch.stack(outputs) if batch_sizes is None else torch.cat(outputs)), state


def recurrent(
    input, hx, weights, mode, num_layers, dropout_p, training, bidirectional, batch_sizes=None
):
    """A stack of recurrent layers over ``input (T, N, C)``, time first.

    ``hx`` is ``h0 (L·D, N, H)`` or ``(h0, c0)`` for an LSTM, rows ordered layer by layer,
    forward direction first; ``weights[l·D + d]`` are the weights of layer ``l``, direction
    ``d``. Layer ``l + 1`` reads the (concatenated) outputs of layer ``l``, after dropout in
    training. Returns ``output (T, N, D·H)`` and ``h_n`` (or ``(h_n, c_n)``) shaped like ``hx``.
    With ``batch_sizes``, ``input`` and ``output`` are packed data (see ``recurrent_layer``).
    """
    directions = 2 if bidirectional else 1
    lstm = mode == "LSTM"
    finals = []
    layer_input = input
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            row = layer * directions + direction
            state = (hx[0][row], hx[1][row]) if lstm else hx[row]
            out, state = recurrent_layer(
                layer_input, state, weights[row], mode, direction == 1, batch_sizes
            )
            outputs.append(out)
            finals.append(state)
        layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=-1)
        if dropout_p > 0 and training and layer < num_layers - 1:
            layer_input = dropout(layer_input, dropout_p, training)
    if lstm:
        return layer_input, (
            torch.stack([h for h, _ in finals]),
            torch.stack([c for _, c in finals]),
        )
    return layer_input, torch.stack(finals)


# --8<-- [end:recurrent]
