"""The edge table: every block with a PyTorch twin, fed what a careless user feeds it.

The registry checks ordinary inputs; this table checks the edges: ``±inf`` and NaN, empty
batches and zero-size dimensions, unbatched and 0-d inputs, integer and mixed dtypes,
``channels_last`` and non-contiguous inputs, bad constructor arguments, legacy keywords. Each
:class:`Edge` runs once on ``byhand`` and once on ``torch`` with the same weights and inputs;
:func:`difference` says how ours differs, or ``None``:

* when PyTorch raises, ours must raise an exception of the same class (a clearer message is
  welcome);
* when PyTorch answers, ours must answer with the same dtype, shape and memory format, the same
  values (NaN in the same places, infinities exactly, the rest within a tolerance), and the same
  gradients (first order; second order where an edge asks for it). A gradient's values and
  dtype are compared, not its strides (autograd's choice, not the block's).

The table is data (:data:`EDGES`, built from the registry, so a new twin is covered by
adding its registry entry) and one loop (``tests/test_edges.py``). The differences we keep on
purpose are listed in :data:`DELIBERATE` with the reason; each block's page shows them.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from byhand.verify.pairs import SEED, Args, as_args

INF, NAN = math.inf, math.nan
# 18 values: the infinities, NaN, both zeros, every kink of the rectifiers and hard
# activations (±1, ±3, ±6), Softplus's threshold (20), and magnitudes where e^x overflows.
SPECIAL = (INF, -INF, NAN, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 20.0, -20.0, 1e-8)
SPECIAL += (40.0, -40.0, 800.0, -800.0)
# 12 finite values at and beside the kinks, where the second derivative is a convention.
KINKS = (0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 20.0, 0.5, -0.5, 2.0)
TOLERANCE = {torch.float64: (1e-9, 1e-7), torch.float32: (1e-5, 1e-4)}


@dataclass(frozen=True)
class Edge:
    """One edge case: ``build(root)`` makes the block from ``root`` (``byhand`` or ``torch``),
    ``inputs()`` makes fresh forward arguments (a tuple or :class:`Args`), identical each call.

    ``double``: also compare the second derivative (the gradient of the summed first
    gradient).
    """

    block: str
    label: str
    build: Callable
    inputs: Callable
    double: bool = False

    @property
    def id(self):
        return f"{self.block} | {self.label}"


def _lookup(root, name):
    obj = root
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def module(name, dtype=torch.float64, **kwargs):
    """``build`` for the class ``name`` (``"nn.Conv2d"``) with ``kwargs``, cast to ``dtype``."""

    def build(root):
        made = _lookup(root, name)(**kwargs)
        return made.to(dtype) if dtype is not None else made

    return build


def function(name, **kwargs):
    """``build`` for the function ``name`` (``"nn.functional.pad"``) with keyword ``kwargs``."""

    def build(root):
        fn = _lookup(root, name)
        return (lambda *args, **more: fn(*args, **kwargs, **more)) if kwargs else fn

    return build


def tensor(values, dtype=torch.float64, shape=None):
    """A fresh tensor of ``values`` (an ``inputs`` helper)."""
    t = torch.tensor(values, dtype=dtype)
    return t.reshape(shape) if shape is not None else t


def randn(*shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- running one side -------------------------------------------------------------------------
@dataclass
class _Side:
    error: BaseException | None = None
    outputs: list | None = None
    grads: list | None = None
    grad_error: BaseException | None = None
    second: list | None = None


def _leaf(x):
    if isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex()):
        return x.detach().requires_grad_(True)
    return x


def _flatten(obj):
    if obj is None or isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _flatten(item)]
    return [obj]


def _seed():
    """Seed the CPU generator only: ``torch.manual_seed`` also queues a lazy seeding of every
    accelerator, which formats the Python stack each time (most of this table's cost under
    pytest, whose stack is deep)."""
    torch.default_generator.manual_seed(SEED)


def _run(edge, root, weights=None):
    side = _Side()
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        try:
            _seed()
            block = edge.build(root)
            if weights is not None and isinstance(block, torch.nn.Module):
                block.load_state_dict(weights)
            args = as_args(edge.inputs()).map(_leaf)
            _seed()
            side.outputs = _flatten(block(*args.args, **args.kwargs))
        except Exception as error:  # noqa: BLE001 - the class is what the table compares
            side.error = error
            return side, None
        leaves = [
            t for _, t in args.tensors() if isinstance(t, torch.Tensor) and t.requires_grad
        ]
        if isinstance(block, torch.nn.Module):
            leaves += [p for _, p in sorted(block.named_parameters())]
        wanted = [t for t in side.outputs if isinstance(t, torch.Tensor) and t.requires_grad]
        if wanted and leaves:
            try:
                grads = torch.autograd.grad(
                    wanted,
                    leaves,
                    [torch.ones_like(t) for t in wanted],
                    allow_unused=True,
                    create_graph=edge.double,
                )
                side.grads = list(grads)
                if edge.double:
                    first = [g for g in grads[:1] if g is not None and g.requires_grad]
                    side.second = (
                        list(
                            torch.autograd.grad(
                                first,
                                leaves[:1],
                                [torch.ones_like(first[0])],
                                allow_unused=True,
                            )
                        )
                        if first
                        else [torch.zeros_like(leaves[0])]
                    )
                    side.second = [
                        torch.zeros_like(leaves[0]) if g is None else g for g in side.second
                    ]
            except Exception as error:  # noqa: BLE001
                side.grad_error = error
    return side, block


def _weights(edge):
    """PyTorch's initial weights for ``edge`` (``None`` for functions), so both sides share
    them."""
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        _seed()
        try:
            block = edge.build(torch)
        except Exception:  # noqa: BLE001
            return None
    return block.state_dict() if isinstance(block, torch.nn.Module) else None


def _format(t):
    if t.dim() != 4:
        return None
    return (t.is_contiguous(), t.is_contiguous(memory_format=torch.channels_last))


def _compare(what, ours, theirs):
    """How tensor ``ours`` differs from ``theirs`` (``None`` when it does not)."""
    if ours is None or theirs is None:
        return (
            None if ours is theirs else f"{what}: {'ours' if ours is None else 'theirs'} None"
        )
    if not isinstance(ours, torch.Tensor) or not isinstance(theirs, torch.Tensor):
        return None if ours == theirs else f"{what}: {ours!r} != {theirs!r}"
    if ours.layout != theirs.layout:
        return f"{what}: layout {ours.layout} != {theirs.layout}"
    if ours.is_sparse:
        ours, theirs = ours.to_dense(), theirs.to_dense()
    if ours.dtype != theirs.dtype:
        return f"{what}: dtype {ours.dtype} != {theirs.dtype}"
    if ours.shape != theirs.shape:
        return f"{what}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
    if what.startswith("output") and _format(ours) != _format(theirs):
        return f"{what}: memory format (contiguous, channels_last) {_format(ours)} != " + str(
            _format(theirs)
        )
    a, b = ours.detach(), theirs.detach()
    if not (a.is_floating_point() or a.is_complex()):
        return None if torch.equal(a, b) else f"{what}: values differ"
    if a.is_complex():
        a, b = torch.view_as_real(a), torch.view_as_real(b)
    if not torch.equal(a.isnan(), b.isnan()):
        return f"{what}: NaN at {a.isnan().sum()} places, PyTorch's at {b.isnan().sum()}"
    if not torch.equal(a.isinf(), b.isinf()) or not torch.equal(a[a.isinf()], b[b.isinf()]):
        return f"{what}: infinities differ"
    finite = a.isfinite()
    atol, rtol = TOLERANCE.get(a.dtype, (1e-3, 1e-2))
    diff = (a[finite].double() - b[finite].double()).abs()
    if diff.numel() and bool((diff > atol + rtol * b[finite].double().abs()).any()):
        return f"{what}: max abs error {float(diff.max()):.3g}"
    return None


def _classes(ours, theirs):
    return f"ours {type(ours).__name__}, theirs {type(theirs).__name__}"


def difference(edge):
    """How byhand differs from PyTorch on ``edge``, in one line, or ``None``."""
    theirs, block = _run(edge, torch)
    weights = block.state_dict() if isinstance(block, torch.nn.Module) else _weights(edge)
    ours, _ = _run(edge, __import__("byhand"), weights)
    if theirs.error is not None or ours.error is not None:
        if theirs.error is None:
            return f"ours raises {type(ours.error).__name__}: {ours.error}"[:300]
        if ours.error is None:
            return f"PyTorch raises {type(theirs.error).__name__}: {theirs.error}"[:300]
        if not isinstance(ours.error, type(theirs.error)):
            return f"exception class: {_classes(ours.error, theirs.error)}: {ours.error}"[:300]
        return None
    if len(ours.outputs) != len(theirs.outputs):
        return f"{len(ours.outputs)} outputs, PyTorch {len(theirs.outputs)}"
    for i, (a, b) in enumerate(zip(ours.outputs, theirs.outputs)):
        found = _compare(f"output {i}", a, b)
        if found:
            return found
        if isinstance(a, torch.Tensor) and a.requires_grad != b.requires_grad:
            return f"output {i}: requires_grad {a.requires_grad}, PyTorch {b.requires_grad}"
    if (ours.grad_error is None) != (theirs.grad_error is None):
        which = ours.grad_error or theirs.grad_error
        side = "ours" if ours.grad_error else "PyTorch"
        return f"backward: {side} raises {type(which).__name__}: {which}"[:300]
    if ours.grad_error is not None and not isinstance(ours.grad_error, type(theirs.grad_error)):
        return f"backward exception class: {_classes(ours.grad_error, theirs.grad_error)}"
    for i, (a, b) in enumerate(zip(ours.grads or [], theirs.grads or [])):
        found = _compare(f"gradient {i}", a, b)
        if found:
            return found
    for a, b in zip(ours.second or [], theirs.second or []):
        found = _compare("second derivative", a, b)
        if found:
            return found
    return None


def noncontiguous(x):
    """``x``'s values in a tensor whose last dimension has stride 2."""
    wide = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype) if x.dim() else None
    if wide is None:
        return x
    wide[..., ::2] = x
    return wide[..., ::2]


__all__ = ["Edge", "Args", "difference", "module", "function", "tensor", "randn"]


def _both(cls, fn, labels, reason, function=True):
    """The same reason for the class and (unless ``function=False``) its function, on each
    edge label."""
    blocks = (f"nn.{cls}", f"nn.functional.{fn}") if function else (f"nn.{cls}",)
    return {f"{block} | {label}": reason for block in blocks for label in labels}


SIMD_NAN = (
    "at a NaN input PyTorch's CPU gradient is 1 or NaN depending on the dtype and on where the "
    "element falls in a SIMD vector (float32 here: 1, float64: NaN); ours is NaN in every case "
    "(arithmetic on 0./1. steps, not torch.where, which costs several passes on the CPU)"
)
# Differences found and not fixed yet (not on purpose): ``edge id -> what is wrong``. The
# table asserts they still differ, so a fix shows up; the report lists them.
NOT_YET = {}  # empty: conv2d's weight gradient at inf/NaN inputs now matches (one GEMM each)
F32 = "±inf, NaN, kinks, float32"
# The differences kept on purpose, ``edge id -> reason``; each block's page shows them.
DELIBERATE = {
    **_both("ELU", "elu", [F32, F32 + " [alpha=0.5]"], SIMD_NAN),
    **_both("CELU", "celu", [F32, F32 + " [alpha=2.0]"], SIMD_NAN),
    **_both("SELU", "selu", [F32], SIMD_NAN),
    **_both("Hardswish", "hardswish", [F32], SIMD_NAN),
    **_both(
        "GELU",
        "gelu",
        ["±inf, NaN, kinks, float32"],
        "PyTorch's float32 GELU gives NaN at +inf (float64 gives inf); ours gives inf in both",
    ),
    **_both(
        "Softsign",
        "softsign",
        ["±inf, NaN, kinks", "±inf, NaN, kinks, float32"],
        "PyTorch's Softsign is x / (1 + |x|) differentiated by autograd: ∞/∞ = NaN at ±inf; "
        "ours writes 1 / (1 + |x|)² and gives the limit, 0",
    ),
    **_both(
        "Softplus",
        "softplus",
        ["second derivative at the kinks"],
        "at exactly βx = threshold PyTorch's second derivative is 0; ours is σ'(threshold) "
        "(2e-9 at 20), the smooth branch's, as the first derivative there",
        function=False,
    ),
    **_both(
        "Hardsigmoid",
        "hardsigmoid",
        ["second derivative at the kinks"],
        "PyTorch raises (no double backward for hardsigmoid); ours gives the true second "
        "derivative, 0",
        function=False,
    ),
    "nn.AdaptiveAvgPool2d | to 0": "pooling to size 0: PyTorch's backward raises; ours returns "
    "a zero gradient",
    **{
        f"{block} float32 input, float64 block": "float32 input, float64 target: PyTorch's "
        "forward answers in float32 and its backward raises; ours also differentiates"
        for block in ("nn.HuberLoss | [mean]", "nn.functional.huber_loss |")
    },
    "nn.MSELoss | shapes broadcast": "PyTorch broadcasts a target of another shape with a "
    "warning; we raise ValueError (the broadcast is almost always a bug)",
}
