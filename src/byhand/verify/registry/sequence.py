"""Registry chapter: recurrent networks, attention and the Transformer
(docs/modules/recurrent.md, attention.md, transformer.md).

Small wrappers make every block fit the one checking machinery: ``WithState`` passes an LSTM's
``(h0, c0)`` as two arguments (so their gradients are compared too), ``Outputs`` drops the
``None`` that ``need_weights=False`` returns, ``SDPA`` turns the function into a module. The
oracles for the blocks without a twin are written here, independently of ``byhand``: the
relative-position bias by a double loop over positions with a scalar bucket function, the local
window as a band mask handed to ``torch.nn.MultiheadAttention``.
"""

import math

import torch

import byhand
from byhand.verify.pairs import Args, Case, ModulePair, twin

RECURRENT, ATTENTION, TRANSFORMER, TEXT_CLASSIFIER = (
    "modules/recurrent.md",
    "modules/attention.md",
    "modules/transformer.md",
    "case-studies/text-classifier.md",
)


def _randn(g, dtype, *shape):
    return torch.randn(*shape, generator=g, dtype=dtype)


# --- wrappers ---------------------------------------------------------------------------------
class WithState(torch.nn.Module):
    """``forward(input, h0, c0)`` → ``module(input, (h0, c0))``: both states are leaves."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input, h0=None, c0=None):
        return self.module(input, None if h0 is None else (h0, c0))


class Packing(torch.nn.Module):
    """``forward(input, *states, lengths=None, enforce_sorted=True)`` for RNN, LSTM, GRU.

    The states are leaves of their own (``h0``, or ``h0, c0``). With ``lengths`` the padded
    ``input`` is first packed by PyTorch's ``pack_padded_sequence`` (sorted, or not with
    ``enforce_sorted=False``), and the packed output's data is returned with the final states.
    """

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input, *states, lengths=None, enforce_sorted=True):
        hx = None if not states else (states if len(states) == 2 else states[0])
        if lengths is not None:
            input = torch.nn.utils.rnn.pack_padded_sequence(
                input, lengths, self.module.batch_first, enforce_sorted
            )
        output, state = self.module(input, hx)
        return (output.data if lengths is not None else output), state


class Outputs(torch.nn.Module):
    """The module's outputs without the ``None`` of ``need_weights=False``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        return tuple(out for out in self.module(*args, **kwargs) if out is not None)


class SDPA(torch.nn.Module):
    """``scaled_dot_product_attention`` with its keyword arguments fixed at construction."""

    def __init__(self, function, **kwargs):
        super().__init__()
        self.function, self.kwargs = function, kwargs

    def forward(self, query, key, value, attn_mask=None):
        return self.function(query, key, value, attn_mask, **self.kwargs)


# --- recurrent --------------------------------------------------------------------------------
def sequence(
    length, batch, size, *, batch_first=False, states=(), layers_dirs=1, lengths=None, **packing
):
    """``input`` (time-first, batch-first, or unbatched if ``batch=None``), initial states;
    with ``lengths`` (one per sequence), ``Args`` that make ``Packing`` pack the input."""

    def make(g, dtype):
        if batch is None:
            x = _randn(g, dtype, length, size)
        else:
            x = _randn(g, dtype, *((batch, length) if batch_first else (length, batch)), size)
        lead = (layers_dirs,) if batch is None else (layers_dirs, batch)
        made = (x, *(_randn(g, dtype, *lead, width) for width in states))
        return made if lengths is None else Args(*made, lengths=lengths, **packing)

    return make


def cell_inputs(size, hidden, batch=3, states=1):
    def make(g, dtype):
        lead = () if batch is None else (batch,)
        x = _randn(g, dtype, *lead, size)
        return (x, *(_randn(g, dtype, *lead, hidden) for _ in range(states)))

    return make


def _cells():
    cells = []
    for name, states in (("nn.RNNCell", 1), ("nn.GRUCell", 1), ("nn.LSTMCell", 2)):
        cases = [
            Case(
                "batch 3, state given",
                dict(input_size=4, hidden_size=5),
                cell_inputs(4, 5, 3, states),
            ),
            Case(
                "no state (zeros)", dict(input_size=4, hidden_size=5), cell_inputs(4, 5, 3, 0)
            ),
            Case(
                "unbatched", dict(input_size=4, hidden_size=5), cell_inputs(4, 5, None, states)
            ),
            Case(
                "no bias",
                dict(input_size=4, hidden_size=5, bias=False),
                cell_inputs(4, 5, 2, states),
            ),
        ]
        if name == "nn.RNNCell":
            cases.append(
                Case(
                    "relu",
                    dict(input_size=4, hidden_size=5, nonlinearity="relu"),
                    cell_inputs(4, 5, 3, 1),
                )
            )
        wrap = {}
        if name == "nn.LSTMCell":
            wrap = dict(
                ours=lambda **kw: WithState(byhand.nn.LSTMCell(**kw)),
                theirs=lambda **kw: WithState(torch.nn.LSTMCell(**kw)),
            )
        cells.append(
            twin(
                name,
                inputs=cases[0].inputs,
                cases=tuple(cases),
                modes=("train",),
                page=RECURRENT,
                **wrap,
            )
        )
    return cells


def _recurrent(name, lstm=False, rnn=False):
    states = (5, 5) if lstm else (5,)
    base = dict(input_size=4, hidden_size=5)
    cases = [
        Case("1 layer, length 7", base, sequence(7, 3, 4)),
        Case(
            "2 layers, bidirectional, state given",
            dict(base, num_layers=2, bidirectional=True),
            sequence(6, 3, 4, states=states, layers_dirs=4),
        ),
        Case(
            "batch_first, odd length 5",
            dict(base, batch_first=True),
            sequence(5, 2, 4, batch_first=True),
        ),
        Case(
            "unbatched, state given",
            dict(base, num_layers=2),
            sequence(5, None, 4, states=states, layers_dirs=2),
        ),
        Case("no bias, 2 layers", dict(base, num_layers=2, bias=False), sequence(4, 2, 4)),
    ]
    # Packed batches (pack_padded_sequence): sorted, and unsorted (enforce_sorted=False, the
    # states come back in the caller's order); the time-first padding holds junk, not zeros.
    cases += [
        Case("packed, sorted lengths 6 4 4 1", base, sequence(6, 4, 4, lengths=(6, 4, 4, 1))),
        Case(
            "packed unsorted, 2 layers, bidirectional, batch_first, state given",
            dict(base, num_layers=2, bidirectional=True, batch_first=True),
            sequence(
                5,
                3,
                4,
                batch_first=True,
                states=states,
                layers_dirs=4,
                lengths=(2, 5, 3),
                enforce_sorted=False,
            ),
        ),
        Case(
            "packed unsorted, 3 layers, state given",
            dict(base, num_layers=3),
            sequence(
                4, 3, 4, states=states, layers_dirs=3, lengths=(1, 4, 2), enforce_sorted=False
            ),
        ),
        Case(
            "packed unsorted, 3 layers, bidirectional, batch_first",
            dict(base, num_layers=3, bidirectional=True, batch_first=True),
            sequence(4, 3, 4, batch_first=True, lengths=(3, 1, 4), enforce_sorted=False),
        ),
    ]
    if rnn:
        cases.append(
            Case(
                "relu, bidirectional",
                dict(base, nonlinearity="relu", bidirectional=True),
                sequence(5, 2, 4),
            )
        )
    if lstm:
        cases.append(
            Case(
                "proj_size 3, bidirectional, state given",
                dict(base, proj_size=3, bidirectional=True),
                sequence(5, 2, 4, states=(3, 5), layers_dirs=2),
            )
        )
        cases.append(
            Case(
                "packed unsorted, proj_size 3, bidirectional",
                dict(base, proj_size=3, bidirectional=True),
                sequence(5, 3, 4, lengths=(5, 2, 3), enforce_sorted=False),
            )
        )
    cls = name.removeprefix("nn.")
    wrap = dict(
        ours=lambda **kw: Packing(getattr(byhand.nn, cls)(**kw)),
        theirs=lambda **kw: Packing(getattr(torch.nn, cls)(**kw)),
    )
    bench = None
    if name in ("nn.LSTM", "nn.GRU"):
        bench = Case(
            "2 layers, H 256, L 64, N 32",
            dict(input_size=256, hidden_size=256, num_layers=2),
            sequence(64, 32, 256),
        )
    return twin(
        name, inputs=cases[0].inputs, cases=tuple(cases), page=RECURRENT, bench=bench, **wrap
    )


# --- attention --------------------------------------------------------------------------------
def qkv(q_shape, k_shape, v_shape, mask=None):
    def make(g, dtype):
        tensors = [_randn(g, dtype, *s) for s in (q_shape, k_shape, v_shape)]
        if mask is not None:
            tensors.append(mask(g, dtype))
        return tuple(tensors)

    return make


def _bool_mask_with_empty_row(g, dtype):
    mask = torch.rand(5, 7, generator=g) > 0.4
    mask[2] = False  # query 2 may attend to nothing: PyTorch returns zeros there
    return mask


def _sdpa():
    shapes = ((2, 4, 5, 3), (2, 4, 7, 3), (2, 4, 7, 6))
    cases = (
        ("default, L 5, S 7", {}, qkv(*shapes)),
        ("is_causal", dict(is_causal=True), qkv(*shapes)),
        ("scale 0.3", dict(scale=0.3), qkv(*shapes)),
        ("bool mask, one row fully masked", {}, qkv(*shapes, mask=_bool_mask_with_empty_row)),
        (
            "float mask (4, 1, 7), gradient",
            {},
            qkv(*shapes, mask=lambda g, d: _randn(g, d, 4, 1, 7)),
        ),
        (
            "GQA: 4 query heads, 2 key/value",
            dict(enable_gqa=True),
            qkv((2, 4, 5, 3), (2, 2, 7, 3), (2, 2, 7, 6)),
        ),
        ("3-D (N, L, E)", {}, qkv((3, 5, 3), (3, 7, 3), (3, 7, 6))),
    )
    return ModulePair(
        name="nn.functional.scaled_dot_product_attention",
        reference="torch.nn.functional.scaled_dot_product_attention",
        ours=lambda **kw: SDPA(byhand.nn.functional.scaled_dot_product_attention, **kw),
        theirs=lambda **kw: SDPA(torch.nn.functional.scaled_dot_product_attention, **kw),
        inputs=cases[0][2],
        cases=tuple(Case(label, kwargs, inputs) for label, kwargs, inputs in cases),
        modes=("train",),
        page=ATTENTION,
        bench=Case("(8, 8, 256, 64)", {}, qkv(*((8, 8, 256, 64),) * 3)),
    )


def attention_inputs(
    length=5,
    source=None,
    batch=2,
    embed=6,
    *,
    batch_first=False,
    kdim=None,
    vdim=None,
    padding=False,
    mask=None,
    **flags,
):
    """``Args(query, key, value, key_padding_mask=..., attn_mask=..., **flags)``."""
    source = length if source is None else source

    def shape(n, width):
        if batch is None:
            return (n, width)
        return (batch, n, width) if batch_first else (n, batch, width)

    def make(g, dtype):
        q = _randn(g, dtype, *shape(length, embed))
        k = _randn(g, dtype, *shape(source, kdim or embed))
        v = _randn(g, dtype, *shape(source, vdim or embed))
        kwargs = dict(flags)
        if padding:
            pad = torch.zeros(batch or 1, source, dtype=torch.bool)
            pad[-1, source - 2 :] = True  # the last sequence is two shorter
            kwargs["key_padding_mask"] = pad if batch is not None else pad[0]
        if mask == "causal":
            kwargs["attn_mask"] = torch.ones(length, source, dtype=torch.bool).triu(1)
        elif mask == "float3d":
            kwargs["attn_mask"] = _randn(g, dtype, (batch or 1) * 2, length, source)
        return Args(q, k, v, **kwargs)

    return make


def _mha():
    e = dict(embed_dim=6, num_heads=2)
    cases = (
        Case(
            "batch_first, causal + padding masks",
            dict(e, batch_first=True),
            attention_inputs(batch_first=True, padding=True, mask="causal"),
        ),
        Case(
            "time first, need_weights=False",
            e,
            attention_inputs(padding=True, mask="causal", need_weights=False),
        ),
        Case("per-head weights", e, attention_inputs(average_attn_weights=False)),
        Case(
            "no bias, float (N·H, L, S) mask",
            dict(e, bias=False),
            attention_inputs(mask="float3d"),
        ),
        Case(
            "add_bias_kv + add_zero_attn",
            dict(e, add_bias_kv=True, add_zero_attn=True),
            attention_inputs(padding=True),
        ),
        Case(
            "kdim 4, vdim 3, L 5, S 7",
            dict(e, kdim=4, vdim=3),
            attention_inputs(5, 7, kdim=4, vdim=3, padding=True),
        ),
        Case("unbatched, padding", e, attention_inputs(batch=None, padding=True)),
        Case(
            "is_causal hint",
            dict(e, batch_first=True),
            attention_inputs(
                batch_first=True, mask="causal", need_weights=False, is_causal=True
            ),
        ),
    )
    return twin(
        "nn.MultiheadAttention",
        ours=lambda **kw: Outputs(byhand.nn.MultiheadAttention(**kw)),
        theirs=lambda **kw: Outputs(torch.nn.MultiheadAttention(**kw)),
        inputs=cases[0].inputs,
        cases=cases,
        page=ATTENTION,
        # the shapes of a Transformer layer, no weights returned (as the layer asks), training
        bench=Case(
            "E 512, 8 heads, L 128, N 16",
            dict(embed_dim=512, num_heads=8, batch_first=True),
            attention_inputs(128, batch=16, embed=512, batch_first=True, need_weights=False),
        ),
    )


# --- oracles ----------------------------------------------------------------------------------
def bucket_by_hand(distance, bidirectional, num_buckets, max_distance, clipped):
    """One relative distance ``j - i`` to its bucket, with Python integers and ``math.log``."""
    if clipped:
        if not bidirectional:
            return min(max(-distance, 0), max_distance)
        return min(max(distance, -max_distance), max_distance) + max_distance
    offset = 0
    if bidirectional:
        num_buckets //= 2
        offset = num_buckets if distance > 0 else 0
        distance = abs(distance)
    else:
        distance = max(-distance, 0)
    exact = num_buckets // 2
    if distance < exact:
        return offset + distance
    spread = math.log(distance / exact) / math.log(max_distance / exact) * (num_buckets - exact)
    return offset + min(exact + int(spread), num_buckets - 1)


class LoopRelativeAttention(torch.nn.MultiheadAttention):
    """Oracle: ``torch.nn.MultiheadAttention`` with the bias built entry by entry in a loop."""

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        batch_first=False,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        clipped=False,
    ):
        super().__init__(embed_dim, num_heads, dropout, bias, batch_first=batch_first)
        if clipped:
            num_buckets = 2 * max_distance + 1 if bidirectional else max_distance + 1
        self.settings = (bidirectional, num_buckets, max_distance, clipped)
        self.relative_attention_bias = torch.nn.Parameter(torch.empty(num_buckets, num_heads))
        torch.nn.init.normal_(self.relative_attention_bias, std=0.5)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
    ):
        batched = query.dim() == 3
        time = 1 if self.batch_first and batched else 0
        length, source = query.shape[time], key.shape[time]
        rows = []
        for h in range(self.num_heads):
            for i in range(length):
                for j in range(source):
                    b = bucket_by_hand(j - i, *self.settings)
                    rows.append(self.relative_attention_bias[b, h])
        bias = torch.stack(rows).view(self.num_heads, length, source)
        if batched:
            batch = query.shape[1 - time]
            bias = bias.repeat(batch, 1, 1)
        return super().forward(
            query, key, value, key_padding_mask, need_weights, bias, average_attn_weights
        )


class BandMaskAttention(torch.nn.MultiheadAttention):
    """Oracle: ``torch.nn.MultiheadAttention`` with the full ``(L, L)`` band mask."""

    def __init__(
        self, embed_dim, num_heads, window_size, dropout=0.0, bias=True, batch_first=False
    ):
        super().__init__(embed_dim, num_heads, dropout, bias, batch_first=batch_first)
        self.window_size = window_size

    def forward(self, query, key, value, key_padding_mask=None, is_causal=False):
        length = query.shape[1 if self.batch_first and query.dim() == 3 else 0]
        i = torch.arange(length)[:, None]
        j = torch.arange(length)[None, :]
        allowed = (j - i).abs() <= self.window_size
        if is_causal:
            allowed &= j <= i
        return super().forward(
            query, key, value, key_padding_mask, False, ~allowed.to(query.device)
        )


def _relative():
    # 8 buckets (4 a side: distances 0, 1 exact, 2..5 log-spaced, ≥ 6 the last) reach every
    # kind of bucket within 8 positions; small sizes keep gradcheck quick.
    e = dict(embed_dim=4, num_heads=2, num_buckets=8, max_distance=6)
    cases = (
        Case(
            "T5 buckets, L = S = 8 (exact, log, last)", e, attention_inputs(8, batch=1, embed=4)
        ),
        Case(
            "clipped ±2 (Shaw), batch_first, padding",
            dict(embed_dim=4, num_heads=2, max_distance=2, clipped=True, batch_first=True),
            attention_inputs(5, batch_first=True, padding=True, embed=4),
        ),
        Case(
            "one-sided (decoder), need_weights=False",
            dict(e, bidirectional=False),
            attention_inputs(7, batch=1, embed=4, need_weights=False),
        ),
        Case(
            "cross-attention L 3, S 7, unbatched",
            e,
            attention_inputs(3, 7, batch=None, embed=4),
        ),
    )
    return ModulePair(
        name="nn.RelativePositionAttention",
        reference="torch.nn.MultiheadAttention + bias by a double loop",
        ours=lambda **kw: Outputs(byhand.nn.RelativePositionAttention(**kw)),
        theirs=lambda **kw: Outputs(LoopRelativeAttention(**kw)),
        inputs=cases[0].inputs,
        cases=cases,
        kind="oracle",
        modes=("train",),  # dropout 0: train and eval cannot differ; gradcheck runs once
        page=ATTENTION,
    )


def _local():
    e = dict(embed_dim=4, num_heads=2)
    small = dict(batch=1, embed=4)  # gradcheck differentiates every element: keep it small
    cases = (
        Case(
            "window 2, L 7 (not a multiple)",
            dict(e, window_size=2),
            attention_inputs(7, **small),
        ),
        Case(
            "window 2, causal, batch_first",
            dict(e, window_size=2, batch_first=True),
            attention_inputs(6, batch_first=True, is_causal=True, **small),
        ),
        Case(
            "window 1, padding",
            dict(e, window_size=1),
            attention_inputs(5, padding=True, **small),
        ),
        Case("window 0 (itself only)", dict(e, window_size=0), attention_inputs(4, **small)),
        Case(
            "window 8 ≥ L: full attention, unbatched",
            dict(e, window_size=8),
            attention_inputs(5, batch=None, embed=4),
        ),
    )
    return ModulePair(
        name="nn.LocalAttention",
        reference="torch.nn.MultiheadAttention + band mask",
        ours=lambda **kw: Outputs(byhand.nn.LocalAttention(**kw)),
        theirs=lambda **kw: Outputs(BandMaskAttention(**kw)),
        inputs=cases[0].inputs,
        cases=cases,
        kind="oracle",
        modes=("train",),  # dropout 0: train and eval cannot differ; gradcheck runs once
        page=ATTENTION,
    )


# --- Transformer ------------------------------------------------------------------------------
def layer_inputs(
    length=5,
    batch=2,
    d=8,
    *,
    batch_first=False,
    memory=None,
    causal=False,
    padding=False,
    prefix="src",
):
    def shape(n):
        if batch is None:
            return (n, d)
        return (batch, n, d) if batch_first else (n, batch, d)

    def make(g, dtype):
        args = [_randn(g, dtype, *shape(length))]
        if memory is not None:
            args.append(_randn(g, dtype, *shape(memory)))
        kwargs = {}
        names = {
            "src": ("src_mask", "src_key_padding_mask"),
            "mask": ("mask", "src_key_padding_mask"),
            "tgt": ("tgt_mask", "tgt_key_padding_mask"),
        }[prefix]
        if causal:
            kwargs[names[0]] = torch.ones(length, length, dtype=torch.bool).triu(1)
        if padding:
            pad = torch.zeros(batch or 1, length, dtype=torch.bool)
            pad[-1, -2:] = True
            kwargs[names[1]] = pad if batch is not None else pad[0]
            if memory is not None:
                mem = torch.zeros(batch or 1, memory, dtype=torch.bool)
                mem[0, -1:] = True
                kwargs["memory_key_padding_mask"] = mem if batch is not None else mem[0]
        return Args(*args, **kwargs)

    return make


LAYER = dict(d_model=8, nhead=2, dim_feedforward=12, dropout=0.0)


def _encoder_layer():
    cases = (
        Case(
            "post-norm, relu, batch_first, causal + padding",
            dict(LAYER, batch_first=True),
            layer_inputs(batch_first=True, causal=True, padding=True),
        ),
        Case(
            "pre-norm, gelu, time first",
            dict(LAYER, norm_first=True, activation="gelu"),
            layer_inputs(7, padding=True),
        ),
        Case(
            "callable activation (tanh), no bias",
            dict(LAYER, activation=torch.tanh, bias=False),
            layer_inputs(6),
        ),
        Case(
            "unbatched, pre-norm",
            dict(LAYER, norm_first=True),
            layer_inputs(5, batch=None, causal=True),
        ),
    )
    return twin(
        "nn.TransformerEncoderLayer",
        inputs=cases[0].inputs,
        cases=cases,
        page=TRANSFORMER,
        # PyTorch's defaults (feed-forward 2048, dropout 0.1), training
        bench=Case(
            "d 512, 8 heads, L 128, N 16",
            dict(d_model=512, nhead=8, batch_first=True),
            layer_inputs(128, batch=16, d=512, batch_first=True),
        ),
    )


def _encoder():
    def build(nn, layer_kwargs, num_layers, final_norm):
        layer = nn.TransformerEncoderLayer(**layer_kwargs)
        norm_class = byhand.nn.LayerNorm if nn is byhand.nn else torch.nn.LayerNorm
        norm = norm_class(layer_kwargs["d_model"]) if final_norm else None
        return nn.TransformerEncoder(layer, num_layers, norm=norm)

    cases = (
        Case(
            "3 post-norm layers + final norm, padding",
            dict(layer_kwargs=dict(LAYER, batch_first=True), num_layers=3, final_norm=True),
            layer_inputs(6, batch_first=True, padding=True, prefix="mask"),
        ),
        Case(
            "2 pre-norm layers, causal mask",
            dict(layer_kwargs=dict(LAYER, norm_first=True), num_layers=2, final_norm=False),
            layer_inputs(5, causal=True, prefix="mask"),
        ),
    )
    return ModulePair(
        name="nn.TransformerEncoder",
        reference="torch.nn.TransformerEncoder",
        ours=lambda **kw: build(byhand.nn, **kw),
        theirs=lambda **kw: build(torch.nn, **kw),
        inputs=cases[0].inputs,
        cases=cases,
        page=TRANSFORMER,
    )


def _decoder_layer():
    cases = (
        Case(
            "post-norm, causal target, padded memory",
            dict(LAYER, batch_first=True),
            layer_inputs(
                5, batch_first=True, memory=7, causal=True, padding=True, prefix="tgt"
            ),
        ),
        Case(
            "pre-norm, gelu, time first",
            dict(LAYER, norm_first=True, activation="gelu"),
            layer_inputs(4, memory=6, causal=True, prefix="tgt"),
        ),
        Case(
            "unbatched, no bias",
            dict(LAYER, bias=False),
            layer_inputs(4, batch=None, memory=3, padding=True, prefix="tgt"),
        ),
    )
    return twin(
        "nn.TransformerDecoderLayer", inputs=cases[0].inputs, cases=cases, page=TRANSFORMER
    )


def _decoder():
    def build(nn, layer_kwargs, num_layers, final_norm):
        layer = nn.TransformerDecoderLayer(**layer_kwargs)
        norm = nn.LayerNorm(layer_kwargs["d_model"]) if final_norm else None
        return nn.TransformerDecoder(layer, num_layers, norm=norm)

    cases = (
        Case(
            "2 post-norm layers + final norm, causal target, padded memory",
            dict(layer_kwargs=dict(LAYER, batch_first=True), num_layers=2, final_norm=True),
            layer_inputs(
                5, batch_first=True, memory=6, causal=True, padding=True, prefix="tgt"
            ),
        ),
        Case(
            "3 pre-norm layers, time first, gelu",
            dict(
                layer_kwargs=dict(LAYER, norm_first=True, activation="gelu"),
                num_layers=3,
                final_norm=False,
            ),
            layer_inputs(4, memory=7, causal=True, prefix="tgt"),
        ),
        Case(
            "unbatched, 2 layers",
            dict(layer_kwargs=LAYER, num_layers=2, final_norm=True),
            layer_inputs(4, batch=None, memory=3, padding=True, prefix="tgt"),
        ),
    )
    return ModulePair(
        name="nn.TransformerDecoder",
        reference="torch.nn.TransformerDecoder",
        ours=lambda **kw: build(byhand.nn, **kw),
        theirs=lambda **kw: build(torch.nn, **kw),
        inputs=cases[0].inputs,
        cases=cases,
        page=TRANSFORMER,
    )


def seq2seq_inputs(source=6, target=5, batch=2, d=8, *, batch_first=False, masks=True):
    """``Args(src, tgt, ...)``: a causal ``tgt_mask`` and padding on both sides if ``masks``."""

    def shape(n):
        if batch is None:
            return (n, d)
        return (batch, n, d) if batch_first else (n, batch, d)

    def make(g, dtype):
        src, tgt = _randn(g, dtype, *shape(source)), _randn(g, dtype, *shape(target))
        if not masks:
            return Args(src, tgt)
        src_pad = torch.zeros(batch or 1, source, dtype=torch.bool)
        src_pad[-1, -2:] = True
        tgt_pad = torch.zeros(batch or 1, target, dtype=torch.bool)
        tgt_pad[0, -1:] = True
        if batch is None:
            src_pad, tgt_pad = src_pad[0], tgt_pad[0]
        return Args(
            src,
            tgt,
            tgt_mask=byhand.nn.Transformer.generate_square_subsequent_mask(target, dtype=dtype),
            src_key_padding_mask=src_pad,
            tgt_key_padding_mask=tgt_pad,
            memory_key_padding_mask=src_pad,
        )

    return make


def _transformer():
    small = dict(
        d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=12
    )
    cases = (
        Case(
            "2+2 post-norm layers, batch_first, causal + padding masks",
            dict(small, dropout=0.0, batch_first=True),
            seq2seq_inputs(batch_first=True),
        ),
        Case(
            "pre-norm, gelu, time first, no masks",
            dict(small, dropout=0.0, norm_first=True, activation="gelu"),
            seq2seq_inputs(masks=False),
        ),
        Case(
            "1+1 layers, no bias, unbatched",
            dict(small, num_encoder_layers=1, num_decoder_layers=1, dropout=0.0, bias=False),
            seq2seq_inputs(batch=None),
        ),
    )
    return twin("nn.Transformer", inputs=cases[0].inputs, cases=cases, page=TRANSFORMER)


# --- positional encodings (no PyTorch twin) ------------------------------------------------
class LoopSinusoidal(torch.nn.Module):
    """Oracle: ``PE[p, j]`` entry by entry with ``math.sin``/``math.cos`` on Python floats."""

    def __init__(
        self, d_model, max_len=5000, dropout=0.0, scale_embedding=False, batch_first=False
    ):
        super().__init__()
        self.d_model, self.scale, self.batch_first = d_model, scale_embedding, batch_first

    def table(self, length):
        rows = []
        for p in range(length):
            row = []
            for j in range(self.d_model):
                angle = p / 10000.0 ** ((j - j % 2) / self.d_model)
                row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
            rows.append(row)
        return rows

    def forward(self, input):
        time = 1 if self.batch_first and input.dim() == 3 else 0
        pe = torch.tensor(self.table(input.shape[time]), dtype=input.dtype).to(input.device)
        x = input * math.sqrt(self.d_model) if self.scale else input
        steps = [x.select(time, p) + pe[p] for p in range(input.shape[time])]
        return torch.stack(steps, dim=time)


class LoopLearned(torch.nn.Module):
    """Oracle: row ``p`` of the table added to position ``p``, one position at a time."""

    def __init__(
        self, d_model, max_len=512, dropout=0.0, scale_embedding=False, batch_first=False
    ):
        super().__init__()
        self.d_model, self.scale, self.batch_first = d_model, scale_embedding, batch_first
        self.weight = torch.nn.Parameter(torch.empty(max_len, d_model))
        torch.nn.init.normal_(self.weight, std=0.02)

    def forward(self, input):
        time = 1 if self.batch_first and input.dim() == 3 else 0
        x = input * math.sqrt(self.d_model) if self.scale else input
        steps = [x.select(time, p) + self.weight[p] for p in range(input.shape[time])]
        return torch.stack(steps, dim=time)


def _positional():
    def tokens(length, batch, d, batch_first=False):
        def make(g, dtype):
            if batch is None:
                return (_randn(g, dtype, length, d),)
            shape = (batch, length, d) if batch_first else (length, batch, d)
            return (_randn(g, dtype, *shape),)

        return make

    cases = (
        Case("time first, d 8", dict(d_model=8, max_len=16), tokens(7, 2, 8)),
        Case(
            "batch_first, √d scale, odd d 7",
            dict(d_model=7, max_len=9, scale_embedding=True, batch_first=True),
            tokens(9, 2, 7, batch_first=True),
        ),
        Case("unbatched, d 6", dict(d_model=6, max_len=40), tokens(40, None, 6)),
    )
    entries = []
    for name, oracle, reference in (
        ("SinusoidalPositionalEncoding", LoopSinusoidal, "math.sin/cos entry by entry"),
        ("LearnedPositionalEncoding", LoopLearned, "a loop over positions"),
    ):
        entries.append(
            ModulePair(
                name=f"nn.{name}",
                reference=reference,
                ours=getattr(byhand.nn, name),
                theirs=oracle,
                inputs=cases[0].inputs,
                cases=cases,
                kind="oracle",
                modes=("train",),  # dropout 0: train and eval cannot differ
                page=TEXT_CLASSIFIER,
            )
        )
    return tuple(entries)


ENTRIES = (
    *_cells(),
    _recurrent("nn.RNN", rnn=True),
    _recurrent("nn.LSTM", lstm=True),
    _recurrent("nn.GRU"),
    _sdpa(),
    _mha(),
    _relative(),
    _local(),
    _encoder_layer(),
    _encoder(),
    _decoder_layer(),
    _decoder(),
    _transformer(),
    *_positional(),
)
