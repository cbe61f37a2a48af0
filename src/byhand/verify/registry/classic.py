"""Registry chapter: the classic NumPy track (docs/classic/).

Each NumPy ``*_forward`` / ``*_backward`` pair runs inside a ``torch.autograd.Function``
(``NumpyFunction``), so the registry's float64 comparison of the forward, the input gradients
and the parameter gradients checks the hand-written backward against autograd through the
``torch.nn.functional`` twin (or ``nn.RNNCell`` / ``nn.LSTMCell`` with copied weights).
Both sides of an entry are a ``Block``: the same parameters and buffers drawn from the same
seed, and a ``compute`` function — ours calls ``byhand.classic``, theirs calls PyTorch.
"""

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from byhand import classic
from byhand.verify.pairs import Case, ModulePair
from byhand.verify.registry._inputs import elementwise, randn

PAGE_LAYERS = "classic/layers.md"
PAGE_CONV = "classic/convolution.md"


# --8<-- [start:numpy_function]
class NumpyFunction(torch.autograd.Function):
    """Runs ``forward(*arrays) -> (out, cache)`` in NumPy and ``backward(dout, cache)`` as the
    gradient: autograd calls the hand-written backward, nothing is differentiated for us."""

    @staticmethod
    def forward(ctx, forward, backward, *tensors):
        arrays = [t.detach().cpu().numpy() for t in tensors]
        out, cache = forward(*arrays)
        ctx.backward, ctx.cache, ctx.like = backward, cache, tensors[0]
        return torch.as_tensor(np.asarray(out)).to(tensors[0])

    @staticmethod
    def backward(ctx, dout):
        grads = ctx.backward(dout.detach().cpu().numpy(), ctx.cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (None, None, *(torch.as_tensor(np.asarray(g)).to(ctx.like) for g in grads))


def numpy_op(forward, backward, *tensors):
    """``NumpyFunction.apply`` with the pair first: ``numpy_op(fwd, bwd, x, w, b)``."""
    return NumpyFunction.apply(forward, backward, *tensors)


# --8<-- [end:numpy_function]


def loss_op(loss, *tensors):
    """A classic loss ``loss(x) -> (value, dx)`` as an autograd op: backward is dout · dx."""
    return numpy_op(lambda x: loss(x), lambda dout, dx: dout * dx, *tensors)


class Block(nn.Module):
    """Parameters (and buffers) named and shaped by ``shapes(**options)``, drawn from N(0, 1)
    in order — ``buffers`` likewise, the variances as U(0.5, 1.5) — and ``compute(self,
    *inputs, **options)`` as the forward."""

    def __init__(self, compute, shapes, buffers=None, **options):
        super().__init__()
        self.compute, self.options = compute, options
        for name, shape in shapes(**options).items():
            self.register_parameter(name, nn.Parameter(torch.randn(shape)))
        for name, shape in (buffers(**options) if buffers else {}).items():
            value = torch.rand(shape) + 0.5 if "var" in name else torch.randn(shape)
            self.register_buffer(name, value)

    def forward(self, *inputs):
        return self.compute(self, *inputs, **self.options)


def classic_pair(name, ours, theirs, shapes, inputs, page, buffers=None, **fields):
    """A ``ModulePair`` named ``classic.<function>``: two ``Block`` s, ours and theirs."""
    return ModulePair(
        name=name,
        reference=fields.pop("reference"),
        ours=functools.partial(Block, ours, shapes, buffers),
        theirs=functools.partial(Block, theirs, shapes, buffers),
        inputs=inputs,
        page=page,
        **{"modes": ("train",), **fields},
    )


def no_params(**_):
    return {}


# ---------------------------------------------------------------- affine, relu


def affine_shapes(D=15, M=6, **_):
    return {"weight": (D, M), "bias": (M,)}


ENTRIES_LAYERS = (
    classic_pair(
        "classic.affine_forward",
        ours=lambda m, x, **_: numpy_op(
            classic.affine_forward, classic.affine_backward, x, m.weight, m.bias
        ),
        theirs=lambda m, x, **_: F.linear(x.flatten(1), m.weight.T, m.bias),
        shapes=affine_shapes,
        inputs=randn(4, 3, 5),
        cases=(
            Case("x (4, 3, 5)"),
            Case("batch of 1, x (1, 7)", dict(D=7, M=3), inputs=randn(1, 7)),
        ),
        reference="F.linear(x.flatten(1), w.T, b)",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.relu_forward",
        ours=lambda m, x, **_: numpy_op(classic.relu_forward, classic.relu_backward, x),
        theirs=lambda m, x, **_: F.relu(x),
        shapes=no_params,
        inputs=elementwise,
        reference="F.relu",
        page=PAGE_LAYERS,
    ),
)


# ---------------------------------------------------------------- losses


def scores_and_labels(N=6, C=5, scale=2.0):
    def make(g, dtype):
        return scale * torch.randn(N, C, generator=g, dtype=dtype), torch.randint(
            0, C, (N,), generator=g
        )

    return make


LOSS_CASES = (
    Case("N=6, C=5"),
    Case("batch of 1", inputs=scores_and_labels(1, 4)),
    Case("scores ±400", inputs=scores_and_labels(5, 3, scale=200.0)),
)


def _softmax_ours(m, x, y, **_):
    return loss_op(lambda v: classic.softmax_loss(v, y.cpu().numpy()), x)


def _svm_ours(m, x, y, **_):
    return loss_op(lambda v: classic.svm_loss(v, y.cpu().numpy()), x)


def _svm_theirs(m, x, y, **_):
    return F.multi_margin_loss(x, y) * x.shape[1]  # PyTorch divides by C as well as N


def _sequence_scores(g, dtype):
    x = torch.randn(3, 4, 6, generator=g, dtype=dtype)
    y = torch.randint(0, 6, (3, 4), generator=g)
    mask = torch.rand(3, 4, generator=g) > 0.3
    return x, y, mask


def _temporal_ours(m, x, y, mask, **_):
    y_np, mask_np = y.cpu().numpy(), mask.cpu().numpy()
    return loss_op(lambda v: classic.temporal_softmax_loss(v, y_np, mask_np), x)


def _temporal_theirs(m, x, y, mask, **_):
    N, T, V = x.shape
    per_step = F.cross_entropy(x.reshape(N * T, V), y.reshape(-1), reduction="none")
    return (per_step * mask.reshape(-1)).sum() / N


ENTRIES_LOSSES = (
    classic_pair(
        "classic.softmax_loss",
        ours=_softmax_ours,
        theirs=lambda m, x, y, **_: F.cross_entropy(x, y),
        shapes=no_params,
        inputs=scores_and_labels(),
        cases=LOSS_CASES,
        reference="F.cross_entropy",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.svm_loss",
        ours=_svm_ours,
        theirs=_svm_theirs,
        shapes=no_params,
        inputs=scores_and_labels(),
        cases=LOSS_CASES,
        reference="C · F.multi_margin_loss",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.temporal_softmax_loss",
        ours=_temporal_ours,
        theirs=_temporal_theirs,
        shapes=no_params,
        inputs=_sequence_scores,
        reference="Σ mask · F.cross_entropy(reduction='none') / N",
        page=PAGE_LAYERS,
    ),
)


# ---------------------------------------------------------------- normalization


def norm_shapes(C=5, **_):
    return {"gamma": (C,), "beta": (C,)}


def running_stats(C=5, **_):
    return {"running_mean": (C,), "running_var": (C,)}


def _batchnorm_ours(m, x, forward, backward, **_):
    """The classic batch norm on the module's buffers (CS231n momentum 0.9 = PyTorch's 0.1)."""
    bn_param = {
        "mode": "train" if m.training else "test",
        "momentum": 0.9,
        "running_mean": m.running_mean.detach().cpu().numpy().copy(),
        "running_var": m.running_var.detach().cpu().numpy().copy(),
    }
    out = numpy_op(lambda *a: forward(*a, bn_param), backward, x, m.gamma, m.beta)
    with torch.no_grad():
        m.running_mean.copy_(torch.as_tensor(bn_param["running_mean"]))
        m.running_var.copy_(torch.as_tensor(bn_param["running_var"]))
    return out


def _batchnorm_theirs(m, x, **_):
    return F.batch_norm(
        x, m.running_mean, m.running_var, m.gamma, m.beta, m.training, 0.1, 1e-5
    )


BATCHNORM_BACKWARDS = {
    "step by step": classic.batchnorm_backward,
    "closed form": classic.batchnorm_backward_alt,
}


def _batchnorm_1d_ours(m, x, backward="step by step", **_):
    return _batchnorm_ours(m, x, classic.batchnorm_forward, BATCHNORM_BACKWARDS[backward])


def _spatial_batchnorm_ours(m, x, **_):
    return _batchnorm_ours(
        m, x, classic.spatial_batchnorm_forward, classic.spatial_batchnorm_backward
    )


def _groupnorm_ours(m, x, G=1, **_):
    return numpy_op(
        lambda *a: classic.spatial_groupnorm_forward(*a, G),
        classic.spatial_groupnorm_backward,
        x,
        m.gamma,
        m.beta,
    )


def _shifted(*shape):
    return lambda g, dtype: (3 * torch.randn(*shape, generator=g, dtype=dtype) + 1,)


ENTRIES_NORMALIZATION = (
    classic_pair(
        "classic.batchnorm_forward",
        ours=_batchnorm_1d_ours,
        theirs=_batchnorm_theirs,
        shapes=norm_shapes,
        buffers=running_stats,
        inputs=_shifted(8, 5),
        cases=(
            Case("batchnorm_backward (step by step)", dict(backward="step by step")),
            Case("batchnorm_backward_alt (closed form)", dict(backward="closed form")),
            Case("N=2", dict(backward="closed form"), inputs=_shifted(2, 5)),
        ),
        modes=("train", "eval"),
        reference="F.batch_norm",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.layernorm_forward",
        ours=lambda m, x, **_: numpy_op(
            classic.layernorm_forward, classic.layernorm_backward, x, m.gamma, m.beta
        ),
        theirs=lambda m, x, **_: F.layer_norm(x, (x.shape[1],), m.gamma, m.beta, 1e-5),
        shapes=norm_shapes,
        inputs=_shifted(4, 5),
        cases=(Case("N=4, D=5"), Case("batch of 1", inputs=_shifted(1, 5))),
        reference="F.layer_norm",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.spatial_batchnorm_forward",
        ours=_spatial_batchnorm_ours,
        theirs=_batchnorm_theirs,
        shapes=norm_shapes,
        buffers=running_stats,
        inputs=_shifted(3, 5, 4, 3),
        modes=("train", "eval"),
        reference="F.batch_norm",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.spatial_groupnorm_forward",
        ours=_groupnorm_ours,
        theirs=lambda m, x, G=1, **_: F.group_norm(x, G, m.gamma, m.beta, 1e-5),
        shapes=norm_shapes,
        inputs=_shifted(2, 6, 3, 5),
        cases=tuple(Case(f"G={G}", dict(C=6, G=G)) for G in (1, 2, 6)),
        reference="F.group_norm",
        page=PAGE_LAYERS,
    ),
)


# ---------------------------------------------------------------- recurrent


def rnn_shapes(D=3, H=4, gates=1, **_):
    return {"Wx": (D, gates * H), "Wh": (H, gates * H), "b": (gates * H,)}


def lstm_shapes(D=3, H=4, **_):
    return rnn_shapes(D, H, gates=4)


LSTM_TO_TORCH = (0, 1, 3, 2)  # our gate blocks i, f, o, g in PyTorch's order i, f, g, o


def torch_cell_weights(m, lstm=False):
    """Our Wx (D, gH), Wh (H, gH), b (gH,) as a PyTorch cell's parameters (transposed, gates
    reordered for the LSTM, the bias all in ``bias_ih``)."""
    H = m.Wh.shape[0]

    def reorder(w):
        if not lstm:
            return w
        blocks = w.split(H, dim=-1)
        return torch.cat([blocks[i] for i in LSTM_TO_TORCH], dim=-1)

    return {
        "weight_ih": reorder(m.Wx).T,
        "weight_hh": reorder(m.Wh).T,
        "bias_ih": reorder(m.b),
        "bias_hh": torch.zeros_like(m.b),
    }


def _cell(m, lstm):
    kind = nn.LSTMCell if lstm else nn.RNNCell
    return kind(m.Wx.shape[0], m.Wh.shape[0], device="meta", dtype=m.Wx.dtype)


def _rnn_step_theirs(m, x, h, **_):
    return torch.func.functional_call(_cell(m, False), torch_cell_weights(m), (x, h))


def _lstm_step_ours(m, x, h, c, **_):
    H = h.shape[1]

    def forward(*arrays):
        next_h, next_c, cache = classic.lstm_step_forward(*arrays)
        return np.concatenate([next_h, next_c], axis=1), cache

    def backward(dout, cache):
        return classic.lstm_step_backward(dout[:, :H], dout[:, H:], cache)

    return numpy_op(forward, backward, x, h, c, m.Wx, m.Wh, m.b)


def _lstm_step_theirs(m, x, h, c, **_):
    weights = torch_cell_weights(m, lstm=True)
    return torch.cat(torch.func.functional_call(_cell(m, True), weights, (x, (h, c))), dim=1)


def _rnn_sequence_theirs(m, x, h0, lstm=False, **_):
    """PyTorch's cell run over the T steps of x (N, T, D); hidden states stacked (N, T, H)."""
    cell, weights = _cell(m, lstm), torch_cell_weights(m, lstm)
    state, hs = ((h0, torch.zeros_like(h0)) if lstm else h0), []
    for t in range(x.shape[1]):
        state = torch.func.functional_call(cell, weights, (x[:, t], state))
        hs.append(state[0] if lstm else state)
    return torch.stack(hs, dim=1)


def _steps(N=2, D=3, H=4, cell_state=False):
    def make(g, dtype):
        tensors = [torch.randn(N, D, generator=g, dtype=dtype)]
        tensors += [torch.randn(N, H, generator=g, dtype=dtype) for _ in range(1 + cell_state)]
        return tuple(tensors)

    return make


def _sequence(N=2, T=4, D=3, H=4):
    return lambda g, dtype: (
        torch.randn(N, T, D, generator=g, dtype=dtype),
        torch.randn(N, H, generator=g, dtype=dtype),
    )


ENTRIES_RECURRENT = (
    classic_pair(
        "classic.rnn_step_forward",
        ours=lambda m, x, h, **_: numpy_op(
            classic.rnn_step_forward, classic.rnn_step_backward, x, h, m.Wx, m.Wh, m.b
        ),
        theirs=_rnn_step_theirs,
        shapes=rnn_shapes,
        inputs=_steps(),
        cases=(Case("N=2"), Case("batch of 1", inputs=_steps(N=1))),
        reference="nn.RNNCell, weights copied",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.lstm_step_forward",
        ours=_lstm_step_ours,
        theirs=_lstm_step_theirs,
        shapes=lstm_shapes,
        inputs=_steps(cell_state=True),
        cases=(Case("N=2"), Case("batch of 1", inputs=_steps(N=1, cell_state=True))),
        reference="nn.LSTMCell, weights copied (gates reordered)",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.rnn_forward",
        ours=lambda m, x, h0, **_: numpy_op(
            classic.rnn_forward, classic.rnn_backward, x, h0, m.Wx, m.Wh, m.b
        ),
        theirs=_rnn_sequence_theirs,
        shapes=rnn_shapes,
        inputs=_sequence(),
        cases=(Case("T=4"), Case("N=1, T=1", inputs=_sequence(N=1, T=1))),
        reference="nn.RNNCell over T steps",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.lstm_forward",
        ours=lambda m, x, h0, **_: numpy_op(
            classic.lstm_forward, classic.lstm_backward, x, h0, m.Wx, m.Wh, m.b
        ),
        theirs=lambda m, x, h0, **_: _rnn_sequence_theirs(m, x, h0, lstm=True),
        shapes=lstm_shapes,
        inputs=_sequence(),
        cases=(Case("T=4"), Case("N=1, T=1", inputs=_sequence(N=1, T=1))),
        reference="nn.LSTMCell over T steps",
        page=PAGE_LAYERS,
    ),
)


# ---------------------------------------------------------------- embedding, temporal affine


def _word_indices(g, dtype):
    return (torch.tensor([[0, 3, 3, 1], [4, 0, 2, 3]]),)


def _embedding_ours(m, x, **_):
    indices = x.cpu().numpy()
    return numpy_op(
        lambda W: classic.word_embedding_forward(indices, W),
        classic.word_embedding_backward,
        m.W,
    )


ENTRIES_TEMPORAL = (
    classic_pair(
        "classic.word_embedding_forward",
        ours=_embedding_ours,
        theirs=lambda m, x, **_: F.embedding(x, m.W),
        shapes=lambda V=5, D=3, **_: {"W": (V, D)},
        inputs=_word_indices,
        reference="F.embedding",
        page=PAGE_LAYERS,
    ),
    classic_pair(
        "classic.temporal_affine_forward",
        ours=lambda m, x, **_: numpy_op(
            classic.temporal_affine_forward,
            classic.temporal_affine_backward,
            x,
            m.weight,
            m.bias,
        ),
        theirs=lambda m, x, **_: F.linear(x, m.weight.T, m.bias),
        shapes=lambda D=4, M=5, **_: {"weight": (D, M), "bias": (M,)},
        inputs=randn(2, 3, 4),
        reference="F.linear(x, w.T, b)",
        page=PAGE_LAYERS,
    ),
)


# ---------------------------------------------------------------- convolution, pooling


def conv_shapes(C=3, F=4, HH=3, WW=3, **_):
    return {"weight": (F, C, HH, WW), "bias": (F,)}


def _conv_ours(variant):
    forward = getattr(classic, f"conv_forward_{variant}")
    backward = getattr(classic, f"conv_backward_{variant}")

    def compute(m, x, stride=1, pad=0, **_):
        return numpy_op(
            lambda *a: forward(*a, stride=stride, pad=pad), backward, x, m.weight, m.bias
        )

    return compute


def _conv_theirs(m, x, stride=1, pad=0, **_):
    return F.conv2d(x, m.weight, m.bias, stride=stride, padding=pad)


CONV_CASES = (
    Case("stride 1, pad 0", dict()),
    Case("stride 2, pad 1, odd sizes", dict(stride=2, pad=1), inputs=randn(2, 3, 7, 9)),
    Case("3×2 kernel, stride 3, pad 2", dict(HH=3, WW=2, stride=3, pad=2)),
    Case("batch of 1, 1 channel", dict(C=1, F=2), inputs=randn(1, 1, 5, 6)),
)


def _pool_ours(variant):
    forward = getattr(classic, f"max_pool_forward_{variant}")
    backward = getattr(classic, f"max_pool_backward_{variant}")

    def compute(m, x, ph=2, pw=2, stride=2, **_):
        return numpy_op(lambda a: forward(a, ph, pw, stride), backward, x)

    return compute


def _pool_theirs(m, x, ph=2, pw=2, stride=2, **_):
    return F.max_pool2d(x, (ph, pw), stride)


POOL_CASES = (
    Case("2×2 stride 2 (windows tile)", dict(), inputs=randn(2, 3, 6, 8)),
    Case("3×3 stride 2 (overlap, odd)", dict(ph=3, pw=3, stride=2), inputs=randn(2, 2, 7, 9)),
    Case("2×3 stride 1", dict(ph=2, pw=3, stride=1), inputs=randn(1, 2, 5, 6)),
    Case("2×2 stride 2, odd sizes", dict(), inputs=randn(1, 2, 7, 5)),
)

ENTRIES_CONV = tuple(
    classic_pair(
        f"classic.conv_forward_{variant}",
        ours=_conv_ours(variant),
        theirs=_conv_theirs,
        shapes=conv_shapes,
        inputs=randn(2, 3, 6, 5),
        cases=CONV_CASES,
        reference="F.conv2d",
        page=PAGE_CONV,
    )
    for variant in ("naive", "fast")
) + tuple(
    classic_pair(
        f"classic.max_pool_forward_{variant}",
        ours=_pool_ours(variant),
        theirs=_pool_theirs,
        shapes=no_params,
        inputs=randn(2, 3, 6, 8),
        cases=POOL_CASES,
        reference="F.max_pool2d",
        page=PAGE_CONV,
    )
    for variant in ("naive", "fast")
)

ENTRIES = (
    *ENTRIES_LAYERS,
    *ENTRIES_LOSSES,
    *ENTRIES_NORMALIZATION,
    *ENTRIES_RECURRENT,
    *ENTRIES_TEMPORAL,
    *ENTRIES_CONV,
)
