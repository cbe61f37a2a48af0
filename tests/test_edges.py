"""The edge table: byhand against PyTorch on inf, NaN, empty, integer, legacy and bad inputs.

Data (the ``EDGES`` list, mostly derived from the registry so every twin is covered) and one
loop (``test_edge``). ``byhand.verify.edges`` holds the machinery and ``DELIBERATE``, the
differences we keep on purpose.
"""

import inspect
import math
import re
import warnings
from pathlib import Path

import pytest
import torch

import byhand
from byhand.verify.edges import (
    DELIBERATE,
    KINKS,
    NOT_YET,
    SPECIAL,
    Edge,
    difference,
    function,
    module,
    noncontiguous,
    randn,
    tensor,
)
from byhand.verify.pairs import SEED, Args, as_args
from byhand.verify.registry import REGISTRY

INF, NAN = math.inf, math.nan
ROOT = Path(__file__).resolve().parents[1]
F = "nn.functional."
INFRASTRUCTURE = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList"}
INFRASTRUCTURE |= {"ParameterDict", "Parameter", "RNNBase", "RNNCellBase"}
SOFTMAX = ("nn.Softmax", "nn.LogSoftmax", "nn.Softmin")
FUNCTIONAL_NAME = {"nn.LeakyReLU": "leaky_relu"}
FUNCTION_EDGES = ("±inf, NaN, kinks", "±inf, NaN, kinks, float32", "0-d", "int64", "bool")


def _fname(name):
    """The function of the activation class ``name`` (``nn.LeakyReLU`` -> ``leaky_relu``)."""
    return FUNCTIONAL_NAME.get(name, name[3:].lower())


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
    return [e for e in _twins() if e.page.startswith("activations/") and e.name not in SOFTMAX]


# --- elementwise activations: the special values, dtypes and layouts ---------------------------
def _activation_edges(name, kwargs, functional):
    """The same edges for the class (``nn.ELU``) and its function (``nn.functional.elu``)."""
    if functional:
        fname = F + _fname(name)
        if name == "nn.PReLU":  # the function takes the weight as an argument

            def build(root, dtype=torch.float64):
                n = kwargs.get("num_parameters", 1)
                w = torch.full((n,), kwargs.get("init", 0.25), dtype=dtype)
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
    rows = [
        ("±inf, NaN, kinks", build, lambda: (tensor(SPECIAL, shape=(1, 3, 6)),), False),
        ("second derivative at the kinks", build, lambda: (tensor(KINKS, shape=(1, 3, 4)),), True),
        ("±inf, NaN, kinks, float32", float32, lambda: (tensor(SPECIAL, torch.float32, (1, 3, 6)),), False),
        ("empty (0, 3, 2)", build, lambda: (randn(0, 3, 2),), False),
        ("0-d", build, lambda: (tensor(-2.5),), False),
        ("int64", build, lambda: (torch.tensor([[-7, 0, 2], [4, 7, -1]]).reshape(1, 3, 2),), False),
        ("bool", build, lambda: (torch.ones(1, 3, 2, dtype=torch.bool),), False),
        ("channels_last", build, lambda: (randn(2, 3, 2, 2, seed=1).mul(4).to(memory_format=torch.channels_last),), False),
        ("non-contiguous", build, lambda: (noncontiguous(randn(2, 3, 4, seed=2).mul(4)),), False),
    ]  # fmt: skip
    for edge_label, make, inputs, double in rows:
        # the class calls the function: the function gets the edges where it does the work
        if not functional or edge_label in FUNCTION_EDGES:
            yield Edge(block, edge_label + label, make, inputs, double=double)


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
        fname = F + {"nn.Softmax": "softmax", "nn.LogSoftmax": "log_softmax"}.get(
            name, "softmin"
        )
        for block, build in ((name, module(name, dim=1)), (fname, function(fname, dim=1))):
            yield Edge(block, "inf, NaN rows", build, rows)
            yield Edge(block, "all -inf row", build, lambda: (tensor([[-INF, -INF]]),))
            yield Edge(block, "empty (0, 3)", build, lambda: (randn(0, 3),))
            yield Edge(
                block,
                "0-d, dim=0",
                module(name, dim=0) if block == name else function(fname, dim=0),
                lambda: (tensor(2.5),),
            )
            yield Edge(block, "int64", build, lambda: (torch.tensor([[1, 2, 3]]),))
            yield Edge(block, "non-contiguous", build, lambda: (noncontiguous(randn(2, 3)),))
        yield Edge(
            fname,
            "dtype=float32",
            function(fname, dim=1, dtype=torch.float32),
            lambda: (randn(2, 3),),
        )


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
            lambda a: (
                fn(a) if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == n else a
            )
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
    Edge(
        "nn.BCEWithLogitsLoss",
        "+inf logit, target 0.5",
        module("nn.BCEWithLogitsLoss"),
        _probs_and_targets([INF, 1.0], [0.5, 1.0]),
    ),
    Edge(
        "nn.BCEWithLogitsLoss",
        "-inf logit, target 0.5, none",
        module("nn.BCEWithLogitsLoss", reduction="none"),
        _probs_and_targets([-INF, 1.0], [0.5, 0.0]),
    ),
    Edge(
        "nn.PReLU",
        "weight gradient with +inf in a channel",
        module("nn.PReLU", num_parameters=2),
        lambda: (tensor([[INF, -1.0], [2.0, -3.0]]),),
    ),
    Edge(
        "nn.AdaptiveAvgPool2d",
        "one inf stays in its windows",
        module("nn.AdaptiveAvgPool2d", output_size=(2, 3)),
        _with_inf(1, 1, 4, 6),
    ),
    Edge(
        "nn.AdaptiveAvgPool2d",
        "global, NaN",
        module("nn.AdaptiveAvgPool2d", output_size=1),
        _with_inf(2, 2, 3, 3, value=NAN),
    ),
    Edge(
        "nn.AdaptiveAvgPool2d",
        "to 0",
        module("nn.AdaptiveAvgPool2d", output_size=0),
        _x(1, 2, 4, 4),
    ),
    # integer inputs
    Edge(
        "nn.MaxPool2d",
        "int64",
        module("nn.MaxPool2d", kernel_size=2),
        lambda: (torch.arange(-8, 24).reshape(1, 2, 4, 4),),
    ),
    Edge(
        "nn.AvgPool2d",
        "int64",
        module("nn.AvgPool2d", kernel_size=2),
        lambda: (torch.arange(-8, 24).reshape(1, 2, 4, 4) * 3,),
    ),
    Edge("nn.ReLU6", "int64 from -3 to 8", module("nn.ReLU6"), lambda: (torch.arange(-3, 9),)),
    Edge(
        "nn.Hardtanh",
        "int64, bounds ±2.5",
        module("nn.Hardtanh", min_val=-2.5, max_val=2.5),
        lambda: (torch.arange(-4, 5),),
    ),
    # BCELoss on what it cannot take
    Edge(
        "nn.BCELoss",
        "NaN input",
        module("nn.BCELoss"),
        _probs_and_targets([NAN, 0.5], [1.0, 0.0]),
    ),
    Edge(
        "nn.BCELoss",
        "target 1.5",
        module("nn.BCELoss"),
        _probs_and_targets([0.3, 0.5], [1.5, 0.0]),
    ),
    Edge(
        "nn.BCELoss",
        "target -0.5",
        module("nn.BCELoss"),
        _probs_and_targets([0.3, 0.5], [-0.5, 0.0]),
    ),
    Edge(
        "nn.BCELoss",
        "input 0 and 1 (log clamped at -100)",
        module("nn.BCELoss"),
        _probs_and_targets([0.0, 1.0, 0.0], [1.0, 0.0, 0.0]),
    ),
    # bad arguments
    *(
        Edge(
            "nn.Conv2d",
            f"bad argument {kw}",
            module("nn.Conv2d", **{**dict(in_channels=2, out_channels=2, kernel_size=3), **kw}),
            _x(1, 2, 5, 5),
        )
        for kw in (
            dict(dilation=0),
            dict(stride=0),
            dict(padding=-1),
            dict(groups=3),
            dict(padding_mode="bogus"),
            dict(padding="same", stride=2),
            dict(kernel_size=0),
            dict(padding="valid"),
            dict(padding=1, padding_mode="reflect"),
            dict(padding=1, padding_mode="replicate"),
            dict(padding=1, padding_mode="circular"),
        )
    ),
    *(
        Edge(
            "nn.Conv2d",
            f"channels_last, {mode} padding",
            module(
                "nn.Conv2d",
                in_channels=2,
                out_channels=3,
                kernel_size=3,
                padding=1,
                padding_mode=mode,
            ),
            _cl(1, 2, 5, 5),
        )
        for mode in ("zeros", "reflect", "replicate", "circular")
    ),
    Edge(
        "nn.Conv2d",
        "input with the wrong channels",
        module("nn.Conv2d", in_channels=2, out_channels=2, kernel_size=3),
        _x(1, 3, 5, 5),
    ),
    Edge(
        "nn.Conv2d",
        "zero-size spatial input",
        module("nn.Conv2d", in_channels=2, out_channels=2, kernel_size=3),
        _x(1, 2, 0, 5),
    ),
    Edge(
        "nn.Conv2d",
        "input smaller than the kernel",
        module("nn.Conv2d", in_channels=2, out_channels=2, kernel_size=3),
        _x(1, 2, 2, 5),
    ),
    Edge(
        "nn.Conv1d",
        "bad argument stride=0",
        module("nn.Conv1d", in_channels=2, out_channels=2, kernel_size=3, stride=0),
        _x(1, 2, 5),
    ),
    Edge(
        "nn.ConvTranspose2d",
        "bad argument stride=0",
        module("nn.ConvTranspose2d", in_channels=2, out_channels=2, kernel_size=3, stride=0),
        _x(1, 2, 5, 5),
    ),
    Edge(
        "nn.BatchNorm1d", "num_features 0", module("nn.BatchNorm1d", num_features=0), _x(4, 0)
    ),
    Edge(
        "nn.BatchNorm1d", "wrong features", module("nn.BatchNorm1d", num_features=3), _x(4, 5)
    ),
    Edge(
        "nn.BatchNorm1d",
        "one value per channel",
        module("nn.BatchNorm1d", num_features=3),
        _x(1, 3),
    ),
    Edge(
        "nn.Linear",
        "in_features 0",
        module("nn.Linear", in_features=0, out_features=3),
        _x(2, 0),
    ),
    Edge(
        "nn.Linear",
        "wrong in_features",
        module("nn.Linear", in_features=4, out_features=3),
        _x(2, 5),
    ),
    Edge(
        "nn.Linear",
        "int64 input",
        module("nn.Linear", in_features=4, out_features=3),
        lambda: (torch.ones(2, 4, dtype=torch.long),),
    ),
    *(
        Edge(
            f"nn.{name}",
            "zero-size spatial input, kernel 2",
            module(f"nn.{name}", kernel_size=2),
            _x(1, 2, 0, 4),
        )
        for name in ("MaxPool2d", "AvgPool2d")
    ),
    *(
        Edge(f"nn.{name}", f"bad argument {kw}", module(f"nn.{name}", **kw), _x(1, 2, 5, 5))
        for name in ("MaxPool2d", "AvgPool2d")
        for kw in (
            dict(kernel_size=0),
            dict(kernel_size=2, stride=0),
            dict(kernel_size=2, padding=2),
            dict(kernel_size=2, padding=-1),
        )
    ),
    Edge(
        "nn.MaxPool2d",
        "channels_last, indices",
        module("nn.MaxPool2d", kernel_size=2, return_indices=True),
        _cl(1, 3, 4, 4),
    ),
    Edge(
        "nn.AdaptiveMaxPool2d",
        "channels_last, indices",
        module("nn.AdaptiveMaxPool2d", output_size=2, return_indices=True),
        _cl(1, 3, 5, 5),
    ),
    Edge(
        "nn.AdaptiveAvgPool2d",
        "zero-size spatial input",
        module("nn.AdaptiveAvgPool2d", output_size=2),
        _x(1, 2, 0, 4),
    ),
    Edge(
        "nn.AdaptiveMaxPool2d",
        "zero-size spatial input",
        module("nn.AdaptiveMaxPool2d", output_size=2),
        _x(1, 2, 0, 4),
    ),
    # normalisation
    *(
        Edge(f"nn.{name}", "empty batch", module(f"nn.{name}", **kw), _x(0, 4, 3, 3))
        for name, kw in (
            ("GroupNorm", dict(num_groups=2, num_channels=4)),
            ("InstanceNorm2d", dict(num_features=4)),
            ("BatchNorm2d", dict(num_features=4)),
        )
    ),
    Edge(
        "nn.InstanceNorm1d",
        "empty batch, running stats",
        module("nn.InstanceNorm1d", num_features=4, track_running_stats=True),
        _x(0, 4, 3),
    ),
    Edge(
        "nn.GroupNorm",
        "channels not divisible",
        module("nn.GroupNorm", num_groups=4, num_channels=6),
        _x(2, 6, 3),
    ),
    Edge(
        "nn.GroupNorm",
        "channels_last",
        module("nn.GroupNorm", num_groups=2, num_channels=4),
        _cl(2, 4, 3, 3),
    ),
    Edge("nn.LayerNorm", "wrong shape", module("nn.LayerNorm", normalized_shape=5), _x(2, 4)),
    Edge("nn.RMSNorm", "wrong shape", module("nn.RMSNorm", normalized_shape=5), _x(2, 4)),
    Edge(
        F + "batch_norm",
        "training without running stats",
        function(F + "batch_norm", running_mean=None, running_var=None, training=True),
        _x(4, 3),
    ),
    Edge(
        F + "batch_norm",
        "eval without running stats",
        function(F + "batch_norm", running_mean=None, running_var=None),
        _x(4, 3),
    ),
    # embedding
    Edge(
        "nn.Embedding",
        "empty indices",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3),
        lambda: (torch.zeros(0, dtype=torch.long),),
    ),
    Edge(
        "nn.Embedding",
        "sparse=True",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3, sparse=True),
        lambda: (torch.tensor([[0, 2, 2], [4, 1, 0]]),),
    ),
    Edge(
        "nn.Embedding",
        "sparse=True, padding_idx",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3, sparse=True, padding_idx=2),
        lambda: (torch.tensor([[0, 2, 2, 4]]),),
    ),
    Edge(
        "nn.Embedding",
        "float indices",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3),
        lambda: (torch.tensor([0.0, 1.0]),),
    ),
    Edge(
        "nn.Embedding",
        "index out of range",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3),
        lambda: (torch.tensor([0, 5]),),
    ),
    Edge(
        "nn.Embedding",
        "int32 indices",
        module("nn.Embedding", num_embeddings=5, embedding_dim=3),
        lambda: (torch.tensor([0, 3], dtype=torch.int32),),
    ),
    # attention
    Edge(
        F + "scaled_dot_product_attention",
        "key length 0",
        function(F + "scaled_dot_product_attention"),
        lambda: (randn(2, 3, 4), randn(2, 0, 4), randn(2, 0, 4)),
    ),
    Edge(
        "nn.MultiheadAttention",
        "key length 0",
        module("nn.MultiheadAttention", embed_dim=4, num_heads=2),
        lambda: (randn(3, 2, 4), randn(0, 2, 4), randn(0, 2, 4)),
    ),
    Edge(
        "nn.MultiheadAttention",
        "embed_dim not divisible by heads",
        module("nn.MultiheadAttention", embed_dim=5, num_heads=2),
        lambda: (randn(3, 2, 5),) * 3,
    ),
    # class targets
    *(
        Edge(name, f"{dtype} targets", module(name), _classes(3, dtype=dtype))
        for name in ("nn.CrossEntropyLoss", "nn.NLLLoss")
        for dtype in (torch.uint8, torch.int32, torch.int16)
    ),
    Edge(
        "nn.CrossEntropyLoss",
        "probability targets with ignore_index",
        module("nn.CrossEntropyLoss", ignore_index=1),
        lambda: (randn(3, 4), randn(3, 4).softmax(1)),
    ),
    Edge(
        "nn.CrossEntropyLoss",
        "target out of range",
        module("nn.CrossEntropyLoss"),
        lambda: (randn(3, 4), torch.tensor([0, 4, 1])),
    ),
    Edge(
        "nn.CrossEntropyLoss",
        "every target ignored",
        module("nn.CrossEntropyLoss"),
        lambda: (randn(3, 4), torch.tensor([-100, -100, -100])),
    ),
    Edge(
        "nn.CrossEntropyLoss",
        "empty batch",
        module("nn.CrossEntropyLoss"),
        lambda: (randn(0, 4), torch.zeros(0, dtype=torch.long)),
    ),
    Edge(
        "nn.CrossEntropyLoss",
        "float64 logits, float32 probabilities",
        module("nn.CrossEntropyLoss"),
        lambda: (randn(3, 4), randn(3, 4).softmax(1).float()),
    ),
    Edge(
        "nn.MSELoss",
        "float32 input, float64 target",
        module("nn.MSELoss"),
        lambda: (randn(3, 4).float(), randn(3, 4, seed=1)),
    ),
    Edge(
        "nn.MSELoss",
        "shapes broadcast",
        module("nn.MSELoss"),
        lambda: (randn(3, 4), randn(1, 4, seed=1)),
    ),
    Edge("nn.L1Loss", "empty", module("nn.L1Loss"), lambda: (randn(0, 4), randn(0, 4))),
    # sequences
    *(
        Edge(
            f"nn.{name}",
            "sequence length 0",
            module(f"nn.{name}", input_size=3, hidden_size=2),
            _x(0, 2, 3),
        )
        for name in ("RNN", "LSTM", "GRU")
    ),
    Edge(
        "nn.RNN",
        "unknown nonlinearity",
        module("nn.RNN", input_size=3, hidden_size=2, nonlinearity="gelu"),
        _x(4, 2, 3),
    ),
    Edge(
        "nn.RNN",
        "float32 input, float64 weights",
        module("nn.RNN", input_size=3, hidden_size=2),
        lambda: (randn(4, 2, 3).float(),),
    ),
    Edge(
        "nn.Linear",
        "float32 input, float64 weights",
        module("nn.Linear", in_features=3, out_features=2),
        lambda: (randn(4, 3).float(),),
    ),
    Edge("nn.Dropout", "p=1.5", module("nn.Dropout", p=1.5), _x(3, 4)),
    Edge("nn.Dropout", "p=-0.1", module("nn.Dropout", p=-0.1), _x(3, 4)),
    Edge(
        "nn.Dropout",
        "int64",
        module("nn.Dropout"),
        lambda: (torch.ones(3, 4, dtype=torch.long),),
    ),
    Edge("nn.Flatten", "0-d input", module("nn.Flatten"), lambda: (tensor(2.0),)),
    Edge(
        "nn.Unflatten",
        "sizes that do not multiply up",
        module("nn.Unflatten", dim=1, unflattened_size=(2, 3)),
        _x(2, 5),
    ),
    # padding
    *(
        Edge(
            F + "pad",
            f"{mode} padding {pad}",
            function(F + "pad", pad=pad, mode=mode),
            lambda: (randn(1, 2, 4, 5),),
        )
        for mode, pad in (
            ("constant", (-1, 1, 2, -2)),
            ("constant", (-3, -3)),
            ("circular", (-1, 1, 2, -2)),
            ("circular", (-1, -1, -1, -1)),
            ("reflect", (2, 1, 1, 3)),
            ("replicate", (-1, 2, 1, 0)),
            ("reflect", (5, 0, 0, 0)),
            ("bogus", (1, 1)),
            ("constant", (1, 1, 1)),
        )
    ),
    Edge(
        F + "pad",
        "constant padding keeps channels_last",
        function(F + "pad", pad=(1, 1, 2, 0)),
        _cl(1, 3, 4, 4),
    ),
    Edge(F + "pad", "constant value 2.5", function(F + "pad", pad=(1, 2), value=2.5), _x(2, 3)),
]
EDGES += NAMED


NAMED_MORE = [
    Edge("nn.RNNBase", "unknown mode", module("nn.RNNBase", mode="BOGUS", input_size=3,
         hidden_size=2), _x(4, 2, 3)),
    Edge("nn.Flatten", "start_dim after end_dim", module("nn.Flatten", start_dim=2, end_dim=1),
         _x(2, 3, 4)),
    Edge("nn.Softmax", "dim out of range", module("nn.Softmax", dim=3), _x(2, 3)),
    Edge("nn.LSTM", "num_layers 0", module("nn.LSTM", input_size=3, hidden_size=2,
         num_layers=0), _x(4, 2, 3)),
    Edge("nn.GRU", "dropout 1.5", module("nn.GRU", input_size=3, hidden_size=2, dropout=1.5),
         _x(4, 2, 3)),
]  # fmt: skip
EDGES += NAMED_MORE


# --- every other function with a twin: ordinary arguments, then the same derived edges ---------
def _args(*tensors, **kwargs):
    return lambda: Args(*(t() if callable(t) else t for t in tensors), **kwargs)


def _r(*shape, seed=0, scale=1.0):
    return lambda: randn(*shape, seed=seed) * scale


def _labels(*values):
    return lambda: torch.tensor(values)


def _mha_args():
    e = 4
    return Args(
        randn(3, 2, e), randn(5, 2, e, seed=1), randn(5, 2, e, seed=2), e, 2,
        randn(3 * e, e, seed=3), randn(3 * e, seed=4), None, None, False, 0.0,
        randn(e, e, seed=5), randn(e, seed=6), training=False,
    )  # fmt: skip


FUNCTIONAL = {
    "linear": _args(_r(3, 4), _r(2, 4, seed=1), _r(2, seed=2)),
    "conv1d": _args(_r(2, 3, 6), _r(4, 3, 3, seed=1), _r(4, seed=2)),
    "conv2d": _args(_r(2, 3, 5, 5), _r(4, 3, 3, 3, seed=1), _r(4, seed=2), padding=1),
    "conv_transpose2d": _args(_r(2, 3, 4, 4), _r(3, 2, 3, 3, seed=1), stride=2),
    "max_pool2d": _args(_r(2, 3, 5, 5), 2),
    "avg_pool2d": _args(_r(2, 3, 5, 5), 3, stride=2, padding=1),
    "adaptive_avg_pool2d": _args(_r(2, 3, 5, 7), (2, 3)),
    "adaptive_max_pool2d": _args(_r(2, 3, 5, 7), (2, 3)),
    "batch_norm": _args(_r(4, 3, 2), None, None, _r(3, seed=1), _r(3, seed=2), training=True),
    "layer_norm": _args(_r(4, 3, 5), (5,), _r(5, seed=1), _r(5, seed=2)),
    "group_norm": _args(_r(4, 6, 3), 3, _r(6, seed=1), _r(6, seed=2)),
    "instance_norm": _args(_r(4, 3, 5)),
    "rms_norm": _args(_r(4, 3, 5), (5,), _r(5, seed=1)),
    "embedding": _args(_labels(0, 3, 3, 1), _r(5, 4, seed=1)),
    "dropout": _args(_r(4, 5), 0.3),
    "dropout1d": _args(_r(4, 5, 3), 0.3),
    "dropout2d": _args(_r(2, 4, 3, 3), 0.3),
    "mse_loss": _args(_r(3, 4), _r(3, 4, seed=1)),
    "l1_loss": _args(_r(3, 4), _r(3, 4, seed=1)),
    "huber_loss": _args(_r(3, 4), _r(3, 4, seed=1, scale=3)),
    "smooth_l1_loss": _args(_r(3, 4), _r(3, 4, seed=1, scale=3)),
    "cross_entropy": _args(_r(3, 4), _labels(0, 3, 1)),
    "nll_loss": _args(lambda: randn(3, 4).log_softmax(1), _labels(0, 3, 1)),
    "binary_cross_entropy": _args(
        lambda: randn(3, 4).sigmoid(), lambda: randn(3, 4, seed=1).sigmoid()
    ),
    "binary_cross_entropy_with_logits": _args(_r(3, 4), lambda: randn(3, 4, seed=1).sigmoid()),
    "kl_div": _args(
        lambda: randn(3, 4).log_softmax(1),
        lambda: randn(3, 4, seed=1).softmax(1),
        reduction="batchmean",
    ),
    "margin_ranking_loss": _args(_r(5), _r(5, seed=1), lambda: tensor([1.0, -1, 1, -1, 1])),
    "hinge_embedding_loss": _args(_r(5), lambda: tensor([1.0, -1, 1, -1, 1])),
    "cosine_embedding_loss": _args(_r(3, 4), _r(3, 4, seed=1), lambda: tensor([1.0, -1, 1])),
    "triplet_margin_loss": _args(_r(3, 4), _r(3, 4, seed=1), _r(3, 4, seed=2)),
    "pairwise_distance": _args(_r(3, 4), _r(3, 4, seed=1)),
    "scaled_dot_product_attention": _args(
        _r(2, 3, 4), _r(2, 5, 4, seed=1), _r(2, 5, 4, seed=2)
    ),
    "multi_head_attention_forward": _mha_args,
}
for name in ("pad", *(n for n in dir(byhand.nn.functional) if n.endswith("softmax"))):
    FUNCTIONAL.setdefault(name, None)  # covered above (softmax family, padding edges)
for fname, base in FUNCTIONAL.items():
    if base is None:
        continue
    build = function(F + fname)
    EDGES.append(Edge(F + fname, "as PyTorch's users call it", build, base))
    for label, change in DERIVED.items():
        EDGES.append(Edge(F + fname, label, build, lambda c=change, b=base: c(b())))


def test_edges():
    """One loop over the table: every edge behaves as PyTorch's, or is listed (and still
    differs)."""
    wrong = []
    for edge in EDGES:
        found = difference(edge)
        if edge.id in DELIBERATE or edge.id in NOT_YET:
            if not found:
                wrong.append(f"{edge.id}: now matches PyTorch, remove it from the list")
        elif found:
            wrong.append(f"{edge.id}: {found}")
    assert not wrong, f"{len(wrong)} of {len(EDGES)} edges differ:\n" + "\n".join(wrong)


def test_every_twin_is_in_the_table():
    """Each ``byhand.nn`` class and ``byhand.nn.functional`` function named as a PyTorch one has
    edges (so a new twin cannot slip past the table)."""
    blocks = {edge.block for edge in EDGES}
    classes = {
        f"nn.{name}"
        for name in dir(byhand.nn)
        if name[0].isupper()
        and hasattr(torch.nn, name)
        and name not in INFRASTRUCTURE
        and getattr(byhand.nn, name) is not getattr(torch.nn, name)
    }
    functions = {
        F + name
        for name in dir(byhand.nn.functional)
        if not name.startswith("_")
        and hasattr(torch.nn.functional, name)
        and callable(getattr(byhand.nn.functional, name))
        and getattr(byhand.nn.functional, name).__module__.startswith("byhand")
    }
    assert not (classes | functions) - blocks, sorted((classes | functions) - blocks)
    assert len(EDGES) == len({edge.id for edge in EDGES}), "two edges share an id"


def test_deliberate_differences_are_edges_and_on_their_pages():
    """Every listed difference names an edge of the table, and its block's page says so."""
    ids = {edge.id for edge in EDGES}
    assert set(DELIBERATE) <= ids, sorted(set(DELIBERATE) - ids)
    pages = {entry.name: entry.page for entry in REGISTRY}
    for key in DELIBERATE:
        block = key.split(" | ")[0]
        name = block if block in pages else _class_of(block)
        text = (ROOT / "docs" / pages[name]).read_text()
        assert "Differs from PyTorch on purpose" in text and name.split(".")[-1] in text, key


def _class_of(block):
    """The class whose function ``block`` is (``nn.functional.elu`` -> ``nn.ELU``)."""
    fname = block.split(".")[-1]
    snake = lambda name: re.sub(r"(?<!^)(?=[A-Z])", "_", name[3:]).lower()  # noqa: E731
    return next(e.name for e in _twins() if fname in (_fname(e.name), snake(e.name)))


# --- the namespace: an ordinary PyTorch model file, with only its imports changed --------------
MODEL_SOURCE = """
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, vocab=11, classes=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(6 + 8, classes)})
        self.act = nn.Sequential(nn.ReLU(), nn.Dropout(0.1), nn.Identity())
        self.scale = nn.Parameter(torch.ones(1))
        self.extra = nn.ParameterList([nn.Parameter(torch.zeros(2))])
        self.norm_w = nn.ParameterDict({"w": nn.Parameter(torch.ones(8))})
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.conv.bias)
        nn.init.xavier_uniform_(self.blocks[0].weight)

    def forward(self, image, tokens):
        x = F.max_pool2d(F.relu(self.bn(self.conv(image))), 2)
        x = F.pad(x, (1, 1, 1, 1)).mean((2, 3))
        t = self.embed(tokens)
        for block in self.blocks:
            t = F.dropout(F.relu(block(t)), 0.1, self.training)
        t = F.layer_norm(t, (8,), self.norm_w["w"]).mean(1)
        t = F.linear(t, torch.eye(8), None) + F.embedding(tokens[:, 0], self.embed.weight)
        w = F.conv2d(image, self.conv.weight, self.conv.bias, padding=1).mean((1, 2, 3))
        h = torch.cat([x, self.act(t)], 1) * self.scale + w.unsqueeze(1) * 0
        return F.softmax(self.heads["a"](h), dim=1)


def run():
    torch.manual_seed(0)
    net = Net()
    image, tokens = torch.randn(2, 3, 6, 6), torch.randint(0, 11, (2, 5))
    probs = net(image, tokens)
    loss = F.cross_entropy(probs.log(), torch.tensor([1, 3]))
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    return probs, loss, net.state_dict()
"""


def test_an_ordinary_model_runs_on_byhand_nn_with_only_the_imports_changed():
    results = []
    for swap in (False, True):
        source = MODEL_SOURCE
        if swap:
            source = source.replace("import torch.nn as nn", "import byhand.nn as nn")
            source = source.replace(
                "import torch.nn.functional as F", "import byhand.nn.functional as F"
            )
        namespace = {}
        exec(compile(source, f"<model swap={swap}>", "exec"), namespace)  # noqa: S102
        results.append(namespace["run"]())
        assert (namespace["nn"].__name__ == "byhand.nn") is swap
        assert (type(namespace["Net"]().conv).__module__ == "byhand.nn.conv") is swap
    (probs_t, loss_t, sd_t), (probs_b, loss_b, sd_b) = results
    assert list(sd_b) == list(sd_t)  # same state_dict keys, same order
    torch.testing.assert_close(probs_b, probs_t, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(loss_b, loss_t, rtol=1e-4, atol=1e-5)


# --- functional losses: PyTorch's positional layout and legacy keywords -------------------------
LEGACY = [
    ("mse_loss", (randn(3, 4), randn(3, 4, seed=1))),
    ("l1_loss", (randn(3, 4), randn(3, 4, seed=1))),
    ("smooth_l1_loss", (randn(3, 4), randn(3, 4, seed=1))),
    ("kl_div", (randn(3, 4).log_softmax(1), randn(3, 4, seed=1).softmax(1))),
    ("binary_cross_entropy", (randn(3, 4).sigmoid(), randn(3, 4, seed=1).sigmoid(), None)),
    ("binary_cross_entropy_with_logits", (randn(3, 4), randn(3, 4, seed=1).sigmoid(), None)),
    ("margin_ranking_loss", (randn(5), randn(5, seed=1), tensor([1.0, -1, 1, -1, 1]), 0.1)),
    ("hinge_embedding_loss", (randn(5), tensor([1.0, -1, 1, -1, 1]), 1.0)),
    ("cosine_embedding_loss", (randn(3, 4), randn(3, 4, seed=1), tensor([1.0, -1, 1]), 0.0)),
]
LEGACY_FLAGS = [(None, False), (False, None), (True, True), (False, True)]


@pytest.mark.parametrize(("size_average", "reduce"), LEGACY_FLAGS)
@pytest.mark.parametrize(("name", "args"), LEGACY, ids=[name for name, _ in LEGACY])
def test_legacy_reduction_flags_positionally_and_by_keyword(name, args, size_average, reduce):
    ours, theirs = getattr(byhand.nn.functional, name), getattr(torch.nn.functional, name)
    for call in (
        lambda fn: fn(*args, size_average, reduce),  # the slots before `reduction`
        lambda fn: fn(*args, size_average=size_average, reduce=reduce),
    ):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            got = call(ours)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = call(theirs)
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_losses_take_the_legacy_slots(name):
    x, y = randn(4, 3).log_softmax(1), torch.tensor([0, 2, 1, 2])
    w = tensor([1.0, 2.0, 0.5])
    for fn in (getattr(byhand.nn.functional, name), getattr(torch.nn.functional, name)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # weight, size_average, ignore_index, reduce, reduction
            fn_result = fn(x, y, w, None, 1, False)
            assert fn_result.shape == (4,) and float(fn_result[2]) == 0.0
    ours = getattr(byhand.nn.functional, name)(x, y, w, None, 1, None, "sum")
    theirs = getattr(torch.nn.functional, name)(x, y, w, None, 1, None, "sum")
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_take_weight(name, reduction):
    x, y, w = randn(3, 4), randn(3, 4, seed=1) * 2, randn(3, 4, seed=2).abs()
    ours = getattr(byhand.nn.functional, name)(x, y, reduction=reduction, weight=w)
    theirs = getattr(torch.nn.functional, name)(x, y, reduction=reduction, weight=w)
    torch.testing.assert_close(ours, theirs)
    with pytest.raises(ValueError):
        getattr(byhand.nn.functional, name)(x, y, weight=w[:1])


# --- optimizers at the edges ----------------------------------------------------------------------
ADAPTIVE = ["Adam", "AdamW", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "SGD"]


def _steps(optimizer_class, params, steps=3, **kwargs):
    optimizer = optimizer_class(params, **kwargs)
    for k in range(steps):
        for p in params:
            p.grad = torch.sin(p.detach() * (k + 1)) + 0.5
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("name", ADAPTIVE)
def test_complex_parameters_as_pytorch(name, foreach):
    """A complex parameter is updated as its real view, by every optimizer, as PyTorch's."""
    kwargs = dict(lr=0.05, foreach=foreach)
    if name == "SGD":
        kwargs.update(momentum=0.9)
    made = []
    for package in (byhand.optim, torch.optim):
        p = torch.complex(randn(3, 2), randn(3, 2, seed=1)).requires_grad_(True)
        q = randn(4).requires_grad_(True)
        _steps(getattr(package, name), [p, q], **kwargs)
        made.append((p.detach(), q.detach()))
    (p_ours, q_ours), (p_theirs, q_theirs) = made
    torch.testing.assert_close(p_ours, p_theirs)
    torch.testing.assert_close(q_ours, q_theirs)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_foreach_matches_the_loop_and_pytorch(nesterov):
    made = []
    for package, foreach in ((byhand.optim, False), (byhand.optim, True), (torch.optim, True)):
        params = [randn(3, 2).requires_grad_(True), randn(5, seed=1).requires_grad_(True)]
        optimizer = _steps(package.SGD, params, lr=0.1, momentum=0.9, nesterov=nesterov,
                           weight_decay=0.01, foreach=foreach)  # fmt: skip
        made.append([p.detach() for p in params])
        assert optimizer.param_groups[0]["foreach"] is foreach
    for ours in made[:2]:
        for a, b in zip(ours, made[2]):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["NAdam", "RAdam"])
def test_tensor_lr_with_foreach(name):
    made = []
    for package in (byhand.optim, torch.optim):
        params = [randn(3, 2).requires_grad_(True)]
        _steps(getattr(package, name), params, lr=torch.tensor(0.01), foreach=True)
        made.append(params[0].detach())
    torch.testing.assert_close(made[0], made[1])


def test_one_step_skeleton():
    """Every byhand optimizer but Lookahead (a wrapper) uses the base class's ``step``."""
    from byhand.optim.optimizer import Optimizer

    for name in (*ADAPTIVE, "LAMB"):
        cls = getattr(byhand.optim, name)
        # the source, not vars(cls): torch.optim.Optimizer patches cls.step on instantiation
        assert issubclass(cls, Optimizer) and "def step(" not in inspect.getsource(cls), name
