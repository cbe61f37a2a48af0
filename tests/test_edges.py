"""The edge table: byhand against PyTorch on inf, NaN, empty, integer, legacy and bad inputs.

Data (the ``EDGES`` list, mostly derived from the registry so every twin is covered) and one
loop (``test_edge``). ``byhand.verify.edges`` holds the machinery and ``DELIBERATE``, the
differences we keep on purpose.
"""

import math
import re
import warnings

import pytest
import torch

import byhand
from byhand.verify.edges import DELIBERATE, Edge, difference, function, module, noncontiguous
from byhand.verify.edges import KINKS, SPECIAL, randn, tensor
from byhand.verify.pairs import SEED, Args, as_args
from byhand.verify.registry import REGISTRY

INF, NAN = math.inf, math.nan
F = "nn.functional."
INFRASTRUCTURE = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList"}
INFRASTRUCTURE |= {"ParameterDict", "Parameter", "RNNBase", "RNNCellBase"}
SOFTMAX = ("nn.Softmax", "nn.LogSoftmax", "nn.Softmin")
FUNCTIONAL_NAME = {"nn.LeakyReLU": "leaky_relu"}


def _twins():
    """Registry entries whose twin is the ``torch.nn`` class of the same name."""
    return [
        e
        for e in REGISTRY
        if e.kind == "twin"
        and e.name.startswith("nn.")
        and e.reference == f"torch.{e.name}"
        and not e.name.startswith(F)
    ]


def _elementwise():
    return [
        e for e in _twins() if e.page.startswith("activations/") and e.name not in SOFTMAX
    ]


# --- elementwise activations: the special values, dtypes and layouts ---------------------------
def _activation_edges(name, kwargs, functional):
    """The same edges for the class (``nn.ELU``) and its function (``nn.functional.elu``)."""
    if functional:
        fname = F + FUNCTIONAL_NAME.get(name, name[3:].lower())
        if name == "nn.PReLU":  # the function takes the weight as an argument

            def build(root, dtype=torch.float64, _n=kwargs.get("num_parameters", 1)):
                w = torch.full((_n,), kwargs.get("init", 0.25), dtype=dtype)
                fn = _lookup(root, fname)
                return lambda x: fn(x, w)

        else:

            def build(root, dtype=torch.float64):
                return function(fname, **kwargs)(root)

        block = fname
    else:

        def build(root, dtype=torch.float64):
            return module(name, dtype=dtype, **kwargs)(root)

        block = name
    label = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    label = f" [{label}]" if label else ""
    float32 = lambda root: build(root, torch.float32)  # noqa: E731
    yield Edge(block, "±inf, NaN, kinks" + label, build, lambda: (tensor(SPECIAL, shape=(1, 3, 6)),))
    yield Edge(block, "second derivative at the kinks" + label, build,
               lambda: (tensor(KINKS, shape=(1, 3, 4)),), double=True)
    yield Edge(block, "±inf, NaN, kinks, float32" + label, float32,
               lambda: (tensor(SPECIAL, torch.float32, (1, 3, 6)),))
    yield Edge(block, "empty (0, 3, 2)" + label, build, lambda: (randn(0, 3, 2),))
    yield Edge(block, "0-d" + label, build, lambda: (tensor(-2.5),))
    yield Edge(block, "int64" + label, build,
               lambda: (torch.tensor([[-7, 0, 2], [4, 7, -1]]).reshape(1, 3, 2),))
    yield Edge(block, "bool" + label, build, lambda: (torch.ones(1, 3, 2, dtype=torch.bool),))
    yield Edge(block, "channels_last" + label, build,
               lambda: (randn(2, 3, 2, 2, seed=1).mul(4).to(memory_format=torch.channels_last),))
    yield Edge(block, "non-contiguous" + label, build,
               lambda: (noncontiguous(randn(2, 3, 4, seed=2).mul(4)),))


def _lookup(root, name):
    for part in name.split("."):
        root = getattr(root, part)
    return root


def activation_edges():
    for entry in _elementwise():
        for case in entry.cases:
            for functional in (False, True):
                yield from _activation_edges(entry.name, case.kwargs, functional)


def softmax_edges():
    rows = lambda: (tensor([[1.0, INF, 0.0], [NAN, 1.0, 2.0], [-INF, -INF, 0.0]]),)  # noqa
    for name in SOFTMAX:
        fname = F + {"nn.Softmax": "softmax", "nn.LogSoftmax": "log_softmax"}.get(name, "softmin")
        for block, build in ((name, module(name, dim=1)), (fname, function(fname, dim=1))):
            yield Edge(block, "inf, NaN rows", build, rows)
            yield Edge(block, "all -inf row", build, lambda: (tensor([[-INF, -INF]]),))
            yield Edge(block, "empty (0, 3)", build, lambda: (randn(0, 3),))
            yield Edge(block, "int64", build, lambda: (torch.tensor([[1, 2, 3]]),))
            yield Edge(block, "non-contiguous", build, lambda: (noncontiguous(randn(2, 3)),))
        yield Edge(fname, "dtype=float32", function(fname, dim=1, dtype=torch.float32),
                   lambda: (randn(2, 3),))


# --- every other twin: edges derived from its registry inputs -----------------------------------
def _base(entry, case):
    factory = case.inputs or entry.inputs
    return lambda: as_args(factory(torch.Generator().manual_seed(SEED), torch.float64))


def _first(args, fn):
    """``args`` with ``fn`` applied to the first floating tensor."""
    items = list(args.args)
    for i, a in enumerate(items):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            items[i] = fn(a)
            break
    return Args(*items, **args.kwargs)


def _poke(value, at=0):
    def fn(x):
        x = x.clone()
        if x.numel() > at:
            x.view(-1)[at] = value
        return x

    return fn


def _batch(fn):
    """``fn`` applied to every tensor argument that shares the first one's size along dim 0."""

    def apply(args):
        first = next(a for a in args.args if isinstance(a, torch.Tensor))
        n = first.shape[0] if first.dim() else None
        return args.map(
            lambda a: fn(a) if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == n else a
        )

    return apply


DERIVED = {
    "+inf": lambda args: _first(args, _poke(INF)),
    "-inf": lambda args: _first(args, _poke(-INF, 1)),
    "NaN": lambda args: _first(args, _poke(NAN)),
    "batch 0": _batch(lambda a: a[:0]),
    "unbatched": _batch(lambda a: a[0]),
    "non-contiguous": lambda args: _first(args, noncontiguous),
    "channels_last": lambda args: _first(
        args, lambda x: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    ),
    "float32 input, float64 block": lambda args: _first(args, lambda x: x.float()),
    "int64 input": lambda args: _first(args, lambda x: x.round().long()),
}


def derived_edges():
    for entry in _twins():
        if entry in _elementwise() or entry.name in SOFTMAX:
            continue
        case = entry.cases[0]
        base = _base(entry, case)
        build = module(entry.name, **case.kwargs)
        yield Edge(entry.name, f"[{case.label}] as registered", build, base)
        for label, change in DERIVED.items():
            yield Edge(
                entry.name, f"[{case.label}] {label}", build, lambda c=change, b=base: c(b())
            )


EDGES = [*activation_edges(), *softmax_edges(), *derived_edges()]


@pytest.mark.parametrize("edge", EDGES, ids=lambda e: e.id)
def test_edge(edge):
    found = difference(edge)
    if edge.id in DELIBERATE:
        assert found, f"{edge.id} now matches PyTorch: remove it from DELIBERATE"
    else:
        assert found is None, f"{edge.id}: {found}"


# --- the examples and other named edges (each one a row) ------------------------------
def _x(*shape, seed=0):
    return lambda: (randn(*shape, seed=seed),)


def _cl(*shape):
    return lambda: (randn(*shape).contiguous(memory_format=torch.channels_last),)


def _with_inf(*shape, at=0, value=INF):
    def make():
        x = randn(*shape)
        x.view(-1)[at] = value
        return (x,)

    return make


def _classes(*shape, classes=4, dtype=torch.int64):
    return lambda: (randn(*shape, classes), torch.arange(shape[0]).remainder(classes).to(dtype))


def _probs_and_targets(input_values, target_values):
    return lambda: (tensor(input_values), tensor(target_values))


NAMED = [
    # inf and NaN
    Edge("nn.BCEWithLogitsLoss", "+inf logit, target 0.5", module("nn.BCEWithLogitsLoss"),
         _probs_and_targets([INF, 1.0], [0.5, 1.0])),
    Edge("nn.BCEWithLogitsLoss", "-inf logit, target 0.5, none", module(
        "nn.BCEWithLogitsLoss", reduction="none"), _probs_and_targets([-INF, 1.0], [0.5, 0.0])),
    Edge("nn.PReLU", "weight gradient with +inf in a channel", module("nn.PReLU", num_parameters=2),
         lambda: (tensor([[INF, -1.0], [2.0, -3.0]]),)),
    Edge("nn.AdaptiveAvgPool2d", "one inf stays in its windows", module("nn.AdaptiveAvgPool2d",
         output_size=(2, 3)), _with_inf(1, 1, 4, 6)),
    Edge("nn.AdaptiveAvgPool2d", "global, NaN", module("nn.AdaptiveAvgPool2d", output_size=1),
         _with_inf(2, 2, 3, 3, value=NAN)),
    Edge("nn.AdaptiveAvgPool2d", "to 0", module("nn.AdaptiveAvgPool2d", output_size=0),
         _x(1, 2, 4, 4)),
    # integer inputs
    Edge("nn.MaxPool2d", "int64", module("nn.MaxPool2d", kernel_size=2),
         lambda: (torch.arange(-8, 24).reshape(1, 2, 4, 4),)),
    Edge("nn.AvgPool2d", "int64", module("nn.AvgPool2d", kernel_size=2),
         lambda: (torch.arange(-8, 24).reshape(1, 2, 4, 4) * 3,)),
    Edge("nn.ReLU6", "int64", module("nn.ReLU6"), lambda: (torch.arange(-3, 9),)),
    Edge("nn.Hardtanh", "int64, bounds ±2.5", module("nn.Hardtanh", min_val=-2.5, max_val=2.5),
         lambda: (torch.arange(-4, 5),)),
    # BCELoss on what it cannot take
    Edge("nn.BCELoss", "NaN input", module("nn.BCELoss"), _probs_and_targets([NAN, 0.5], [1., 0.])),
    Edge("nn.BCELoss", "target 1.5", module("nn.BCELoss"), _probs_and_targets([0.3, 0.5], [1.5, 0.])),
    Edge("nn.BCELoss", "target -0.5", module("nn.BCELoss"), _probs_and_targets([0.3, 0.5], [-.5, 0.])),
    Edge("nn.BCELoss", "input 0 and 1 (log clamped at -100)", module("nn.BCELoss"),
         _probs_and_targets([0.0, 1.0, 0.0], [1.0, 0.0, 0.0])),
    # bad arguments
    *(Edge("nn.Conv2d", f"bad argument {kw}", module("nn.Conv2d", **{**dict(in_channels=2, out_channels=2,
                                                    kernel_size=3), **kw}), _x(1, 2, 5, 5))
      for kw in (dict(dilation=0), dict(stride=0), dict(padding=-1), dict(groups=3),
                 dict(padding_mode="bogus"), dict(padding="same", stride=2), dict(kernel_size=0),
                 dict(padding="valid"), dict(padding=1, padding_mode="reflect"),
                 dict(padding=1, padding_mode="replicate"), dict(padding=1, padding_mode="circular"))),
    *(Edge("nn.Conv2d", f"channels_last, {mode} padding", module(
        "nn.Conv2d", in_channels=2, out_channels=3, kernel_size=3, padding=1, padding_mode=mode),
        _cl(1, 2, 5, 5)) for mode in ("zeros", "reflect", "replicate", "circular")),
    Edge("nn.Conv2d", "input with the wrong channels", module("nn.Conv2d", in_channels=2,
         out_channels=2, kernel_size=3), _x(1, 3, 5, 5)),
    Edge("nn.Conv2d", "zero-size spatial input", module("nn.Conv2d", in_channels=2,
         out_channels=2, kernel_size=3), _x(1, 2, 0, 5)),
    Edge("nn.Conv2d", "input smaller than the kernel", module("nn.Conv2d", in_channels=2,
         out_channels=2, kernel_size=3), _x(1, 2, 2, 5)),
    Edge("nn.Conv1d", "bad argument stride=0", module("nn.Conv1d", in_channels=2, out_channels=2,
         kernel_size=3, stride=0), _x(1, 2, 5)),
    Edge("nn.ConvTranspose2d", "bad argument stride=0", module("nn.ConvTranspose2d", in_channels=2,
         out_channels=2, kernel_size=3, stride=0), _x(1, 2, 5, 5)),
    Edge("nn.BatchNorm1d", "num_features 0", module("nn.BatchNorm1d", num_features=0), _x(4, 0)),
    Edge("nn.BatchNorm1d", "wrong features", module("nn.BatchNorm1d", num_features=3), _x(4, 5)),
    Edge("nn.BatchNorm1d", "one value per channel", module("nn.BatchNorm1d", num_features=3),
         _x(1, 3)),
    Edge("nn.Linear", "in_features 0", module("nn.Linear", in_features=0, out_features=3), _x(2, 0)),
    Edge("nn.Linear", "wrong in_features", module("nn.Linear", in_features=4, out_features=3),
         _x(2, 5)),
    Edge("nn.Linear", "int64 input", module("nn.Linear", in_features=4, out_features=3),
         lambda: (torch.ones(2, 4, dtype=torch.long),)),
    *(Edge(f"nn.{name}", f"zero-size spatial input, kernel 2", module(f"nn.{name}", kernel_size=2),
           _x(1, 2, 0, 4)) for name in ("MaxPool2d", "AvgPool2d")),
    *(Edge(f"nn.{name}", f"bad argument {kw}", module(f"nn.{name}", **kw), _x(1, 2, 5, 5))
      for name in ("MaxPool2d", "AvgPool2d")
      for kw in (dict(kernel_size=0), dict(kernel_size=2, stride=0), dict(kernel_size=2, padding=2),
                 dict(kernel_size=2, padding=-1))),
    Edge("nn.MaxPool2d", "channels_last, indices", module("nn.MaxPool2d", kernel_size=2,
         return_indices=True), _cl(1, 3, 4, 4)),
    Edge("nn.AdaptiveMaxPool2d", "channels_last, indices", module("nn.AdaptiveMaxPool2d",
         output_size=2, return_indices=True), _cl(1, 3, 5, 5)),
    Edge("nn.AdaptiveAvgPool2d", "zero-size spatial input", module("nn.AdaptiveAvgPool2d",
         output_size=2), _x(1, 2, 0, 4)),
    Edge("nn.AdaptiveMaxPool2d", "zero-size spatial input", module("nn.AdaptiveMaxPool2d",
         output_size=2), _x(1, 2, 0, 4)),
    # normalisation
    *(Edge(f"nn.{name}", "empty batch", module(f"nn.{name}", **kw), _x(0, 4, 3, 3))
      for name, kw in (("GroupNorm", dict(num_groups=2, num_channels=4)),
                       ("InstanceNorm2d", dict(num_features=4)),
                       ("BatchNorm2d", dict(num_features=4)))),
    Edge("nn.InstanceNorm1d", "empty batch, running stats", module(
        "nn.InstanceNorm1d", num_features=4, track_running_stats=True), _x(0, 4, 3)),
    Edge("nn.GroupNorm", "channels not divisible", module("nn.GroupNorm", num_groups=4,
         num_channels=6), _x(2, 6, 3)),
    Edge("nn.GroupNorm", "channels_last", module("nn.GroupNorm", num_groups=2, num_channels=4),
         _cl(2, 4, 3, 3)),
    Edge("nn.LayerNorm", "wrong shape", module("nn.LayerNorm", normalized_shape=5), _x(2, 4)),
    Edge("nn.RMSNorm", "wrong shape", module("nn.RMSNorm", normalized_shape=5), _x(2, 4)),
    Edge(F + "batch_norm", "training without running stats", function(
        F + "batch_norm", running_mean=None, running_var=None, training=True), _x(4, 3)),
    Edge(F + "batch_norm", "eval without running stats", function(
        F + "batch_norm", running_mean=None, running_var=None), _x(4, 3)),
    # embedding
    Edge("nn.Embedding", "empty indices", module("nn.Embedding", num_embeddings=5,
         embedding_dim=3), lambda: (torch.zeros(0, dtype=torch.long),)),
    Edge("nn.Embedding", "sparse=True", module("nn.Embedding", num_embeddings=5, embedding_dim=3,
         sparse=True), lambda: (torch.tensor([[0, 2, 2], [4, 1, 0]]),)),
    Edge("nn.Embedding", "sparse=True, padding_idx", module("nn.Embedding", num_embeddings=5,
         embedding_dim=3, sparse=True, padding_idx=2), lambda: (torch.tensor([[0, 2, 2, 4]]),)),
    Edge("nn.Embedding", "float indices", module("nn.Embedding", num_embeddings=5,
         embedding_dim=3), lambda: (torch.tensor([0.0, 1.0]),)),
    Edge("nn.Embedding", "index out of range", module("nn.Embedding", num_embeddings=5,
         embedding_dim=3), lambda: (torch.tensor([0, 5]),)),
    Edge("nn.Embedding", "int32 indices", module("nn.Embedding", num_embeddings=5,
         embedding_dim=3), lambda: (torch.tensor([0, 3], dtype=torch.int32),)),
    # attention
    Edge(F + "scaled_dot_product_attention", "key length 0", function(
        F + "scaled_dot_product_attention"), lambda: (randn(2, 3, 4), randn(2, 0, 4), randn(2, 0, 4))),
    Edge("nn.MultiheadAttention", "key length 0", module("nn.MultiheadAttention", embed_dim=4,
         num_heads=2), lambda: (randn(3, 2, 4), randn(0, 2, 4), randn(0, 2, 4))),
    Edge("nn.MultiheadAttention", "embed_dim not divisible by heads", module(
        "nn.MultiheadAttention", embed_dim=5, num_heads=2), lambda: (randn(3, 2, 5),) * 3),
    # class targets
    *(Edge(name, f"{dtype} targets", module(name), _classes(3, dtype=dtype))
      for name in ("nn.CrossEntropyLoss", "nn.NLLLoss")
      for dtype in (torch.uint8, torch.int32, torch.int16)),
    Edge("nn.CrossEntropyLoss", "probability targets with ignore_index", module(
        "nn.CrossEntropyLoss", ignore_index=1), lambda: (randn(3, 4), randn(3, 4).softmax(1))),
    Edge("nn.CrossEntropyLoss", "target out of range", module("nn.CrossEntropyLoss"),
         lambda: (randn(3, 4), torch.tensor([0, 4, 1]))),
    Edge("nn.CrossEntropyLoss", "every target ignored", module("nn.CrossEntropyLoss"),
         lambda: (randn(3, 4), torch.tensor([-100, -100, -100]))),
    Edge("nn.CrossEntropyLoss", "empty batch", module("nn.CrossEntropyLoss"),
         lambda: (randn(0, 4), torch.zeros(0, dtype=torch.long))),
    Edge("nn.CrossEntropyLoss", "float64 logits, float32 probabilities", module(
        "nn.CrossEntropyLoss"), lambda: (randn(3, 4), randn(3, 4).softmax(1).float())),
    Edge("nn.MSELoss", "float32 input, float64 target", module("nn.MSELoss"),
         lambda: (randn(3, 4).float(), randn(3, 4, seed=1))),
    Edge("nn.MSELoss", "shapes broadcast", module("nn.MSELoss"),
         lambda: (randn(3, 4), randn(1, 4, seed=1))),
    Edge("nn.L1Loss", "empty", module("nn.L1Loss"), lambda: (randn(0, 4), randn(0, 4))),
    # sequences
    *(Edge(f"nn.{name}", "sequence length 0", module(f"nn.{name}", input_size=3, hidden_size=2),
           _x(0, 2, 3)) for name in ("RNN", "LSTM", "GRU")),
    Edge("nn.RNN", "unknown nonlinearity", module("nn.RNN", input_size=3, hidden_size=2,
         nonlinearity="gelu"), _x(4, 2, 3)),
    Edge("nn.RNN", "float32 input, float64 weights", module("nn.RNN", input_size=3,
         hidden_size=2), lambda: (randn(4, 2, 3).float(),)),
    Edge("nn.Linear", "float32 input, float64 weights", module("nn.Linear", in_features=3,
         out_features=2), lambda: (randn(4, 3).float(),)),
    Edge("nn.Dropout", "p=1.5", module("nn.Dropout", p=1.5), _x(3, 4)),
    Edge("nn.Dropout", "p=-0.1", module("nn.Dropout", p=-0.1), _x(3, 4)),
    Edge("nn.Dropout", "int64", module("nn.Dropout"), lambda: (torch.ones(3, 4, dtype=torch.long),)),
    Edge("nn.Flatten", "0-d input", module("nn.Flatten"), lambda: (tensor(2.0),)),
    Edge("nn.Unflatten", "sizes that do not multiply up", module("nn.Unflatten", dim=1,
         unflattened_size=(2, 3)), _x(2, 5)),
    # padding
    *(Edge(F + "pad", f"{mode} padding {pad}", function(F + "pad", pad=pad, mode=mode),
           lambda: (randn(1, 2, 4, 5),))
      for mode, pad in (("constant", (-1, 1, 2, -2)), ("constant", (-3, -3)),
                        ("circular", (-1, 1, 2, -2)), ("circular", (-1, -1, -1, -1)),
                        ("reflect", (2, 1, 1, 3)), ("replicate", (-1, 2, 1, 0)),
                        ("reflect", (5, 0, 0, 0)), ("bogus", (1, 1)), ("constant", (1, 1, 1)))),
    Edge(F + "pad", "constant padding keeps channels_last", function(F + "pad", pad=(1, 1, 2, 0)),
         _cl(1, 3, 4, 4)),
    Edge(F + "pad", "constant value 2.5", function(F + "pad", pad=(1, 2), value=2.5), _x(2, 3)),
]
EDGES += NAMED
