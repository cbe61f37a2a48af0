"""Registry entry types and the parity checks they run.

An entry pairs a hand-written block (``ours``) with the block it re-creates (``theirs``): a
PyTorch
built-in (``kind="twin"``) or an independent reference written for the purpose
(``kind="oracle"``). The same entry drives the tests, the docs' verification tables and the
benchmarks, so each check is written once, here.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

SEED = 1234
DTYPES = {"float64": torch.float64, "float32": torch.float32}
# (atol, rtol) per dtype; a value passes when |ours - theirs| <= atol + rtol * |theirs|.
DEFAULT_TOLERANCE = {torch.float64: (1e-12, 1e-10), torch.float32: (1e-5, 1e-4)}


class Args:
    """Forward arguments with keywords: ``Args(query, key, value, key_padding_mask=mask)``.

    An entry's ``inputs(generator, dtype)`` returns either a plain tuple of positional arguments
    or
    an ``Args``. Floating tensors among the keywords get gradients compared like positional
    ones.
    """

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = tuple(args), dict(kwargs)

    def map(self, fn):
        """A new ``Args`` with ``fn`` applied to every argument."""
        return Args(*(fn(a) for a in self.args), **{k: fn(v) for k, v in self.kwargs.items()})

    def tensors(self):
        """(label, value) of every argument, positional first: ``input0``, ``input1``, ..., then
        names.
        """
        return [(f"input{i}", a) for i, a in enumerate(self.args)] + list(self.kwargs.items())


def as_args(made):
    """What an ``inputs`` factory returned, as ``Args``."""
    return made if isinstance(made, Args) else Args(*made)


@dataclass(frozen=True)
class Case:
    """One configuration of an entry: constructor ``kwargs`` shared by ours and theirs.

    ``inputs`` overrides the entry's input factory for this case. ``param_groups`` (optimizers
    only) maps the list of parameters to the ``params`` argument, e.g. two groups.
    """

    label: str
    kwargs: dict = field(default_factory=dict)
    inputs: Callable | None = None
    param_groups: Callable | None = None


@dataclass(frozen=True)
class Result:
    """The outcome of one check: one entry, one case, one mode, one device and dtype."""

    name: str
    case: str
    mode: str
    reference: str
    kind: str
    device: str
    dtype: str
    page: str
    max_abs_err: dict
    gradcheck: bool | None
    failures: tuple
    atol: float
    rtol: float

    @property
    def passed(self):
        return not self.failures

    def to_dict(self):
        return {
            "name": self.name,
            "case": self.case,
            "mode": self.mode,
            "reference": self.reference,
            "kind": self.kind,
            "device": self.device,
            "dtype": self.dtype,
            "page": self.page,
            "max_abs_err": self.max_abs_err,
            "gradcheck": self.gradcheck,
            "passed": self.passed,
            "failures": list(self.failures),
            "atol": self.atol,
            "rtol": self.rtol,
            "torch": torch.__version__,
        }


class _Comparison:
    """Collects the maximum absolute error per quantity and the reasons a check failed."""

    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol
        self.max_abs_err = {}
        self.failures = []

    def tensors(self, quantity, ours, theirs):
        if ours is None or theirs is None:
            if ours is not theirs:
                which = "ours" if ours is None else "theirs"
                self.failures.append(f"{quantity}: {which} is None, the other is a tensor")
            return
        if ours.shape != theirs.shape:
            self.failures.append(
                f"{quantity}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
            )
            return
        if ours.numel() == 0:
            self.max_abs_err.setdefault(quantity, 0.0)
            return
        a, b = ours.detach().double(), theirs.detach().double()
        nan_a, nan_b = torch.isnan(a), torch.isnan(b)
        if not torch.equal(nan_a, nan_b):
            self.failures.append(f"{quantity}: NaN in different places")
            return
        a, b = a.masked_fill(nan_a, 0), b.masked_fill(nan_b, 0)
        diff = (a - b).abs()
        err = float(diff.max())
        self.max_abs_err[quantity] = max(self.max_abs_err.get(quantity, 0.0), err)
        limit = self.atol + self.rtol * b.abs()
        if bool((diff > limit).any()):
            self.failures.append(
                f"{quantity}: max abs error {err:.3e} exceeds "
                f"atol={self.atol:g}, rtol={self.rtol:g}"
            )

    def keys(self, quantity, ours, theirs):
        if set(ours) != set(theirs):
            self.failures.append(
                f"{quantity} keys differ: ours {sorted(ours)} vs theirs {sorted(theirs)}"
            )
            return False
        return True


def _flatten(obj):
    """Tensors inside nested tuples/lists, in order (``LSTM`` returns ``(out, (h, c))``)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _flatten(item)]
    raise TypeError(f"expected tensors or nested tuples of tensors, got {type(obj).__name__}")


def _seeded(device, fn):
    """Run ``fn`` with every generator seeded to ``SEED``; the global RNG state is restored."""
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(SEED)
        return fn()


def _leaf(x):
    """A fresh leaf for one side: floating tensors get ``requires_grad``, others are shared."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x.detach().clone().requires_grad_(True)
    return x


def _leaf_copies(inputs):
    """Fresh leaves for one side (``Args`` in, ``Args`` out)."""
    return inputs.map(_leaf)


@dataclass(frozen=True)
class ModulePair:
    """A hand-written ``nn.Module`` and its twin or oracle, built from the same ``Case.kwargs``.

    ``inputs(generator, dtype) -> tuple | Args`` makes the forward arguments on the CPU (the
    check
    moves them to the device under test). Checks: the
    initial state_dict from one seed (``init``), the forward output, the gradient of every
    floating
    input and parameter for a random upstream gradient, and the buffers after the step. Oracle
    entries (and any entry with ``gradcheck=True``) also pass ``torch.autograd.gradcheck``.
    """

    name: str
    reference: str
    ours: Callable
    theirs: Callable
    inputs: Callable
    page: str
    kind: str = "twin"
    cases: tuple = (Case("default"),)
    modes: tuple = ("train", "eval")
    check_init: bool = True
    gradcheck: bool | None = None
    tolerance: dict = field(default_factory=dict)
    # the configurations benchmarks/ times (larger inputs): one Case, or a tuple of them
    bench: Case | tuple | None = None

    def __post_init__(self):
        if self.kind not in ("twin", "oracle"):
            raise ValueError(f"{self.name}: kind must be 'twin' or 'oracle', got {self.kind!r}")

    def ids(self):
        return [(case, mode) for case in self.cases for mode in self.modes]

    def check(self, case, mode, device="cpu", dtype=torch.float64):
        atol, rtol = self.tolerance.get(dtype, DEFAULT_TOLERANCE[dtype])
        cmp = _Comparison(atol, rtol)
        gradcheck_ok = None

        ours = _seeded("cpu", lambda: self.ours(**copy.deepcopy(case.kwargs)))
        theirs = _seeded("cpu", lambda: self.theirs(**copy.deepcopy(case.kwargs)))
        sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
        if not cmp.keys("state_dict", sd_ours, sd_theirs):
            return _result(
                self, case, mode, device, dtype, cmp, None
            )  # nothing else can be paired up
        if self.check_init:
            for key in sd_theirs:
                cmp.tensors("init", sd_ours[key], sd_theirs[key])
        # From here on both hold the same weights: load theirs into ours and ours back into
        # theirs.
        ours.load_state_dict(sd_theirs)
        theirs.load_state_dict(ours.state_dict())
        ours.to(device=device, dtype=dtype).train(mode == "train")
        theirs.to(device=device, dtype=dtype).train(mode == "train")

        make_inputs = case.inputs or self.inputs
        generator = torch.Generator().manual_seed(SEED)
        inputs = as_args(make_inputs(generator, dtype)).map(
            lambda x: x.to(device) if isinstance(x, torch.Tensor) else x
        )
        in_ours, in_theirs = _leaf_copies(inputs), _leaf_copies(inputs)
        out_ours = _flatten(_seeded(device, lambda: ours(*in_ours.args, **in_ours.kwargs)))
        out_theirs = _flatten(
            _seeded(device, lambda: theirs(*in_theirs.args, **in_theirs.kwargs))
        )

        if len(out_ours) != len(out_theirs):
            cmp.failures.append(f"forward: {len(out_ours)} outputs != {len(out_theirs)}")
        else:
            for i, (a, b) in enumerate(zip(out_ours, out_theirs)):
                cmp.tensors("forward" if len(out_ours) == 1 else f"forward[{i}]", a, b)
            self._backward(
                cmp, generator, ours, theirs, in_ours, in_theirs, out_ours, out_theirs
            )

        for (name, a), (_, b) in zip(
            sorted(ours.named_buffers()), sorted(theirs.named_buffers())
        ):
            if a.is_floating_point() or b.is_floating_point():
                cmp.tensors(f"buffer.{name}", a, b)
            elif not torch.equal(a.cpu(), b.cpu()):
                cmp.failures.append(f"buffer.{name}: {a.tolist()} != {b.tolist()}")

        if self.gradcheck or (self.gradcheck is None and self.kind == "oracle"):
            gradcheck_ok = self._gradcheck(cmp, ours, inputs, device, dtype)
        return _result(self, case, mode, device, dtype, cmp, gradcheck_ok)

    @staticmethod
    def _backward(cmp, generator, ours, theirs, in_ours, in_theirs, out_ours, out_theirs):
        for i, (a, b) in enumerate(zip(out_ours, out_theirs)):
            if (
                a.requires_grad != b.requires_grad
            ):  # e.g. ours detached its output: no gradient flows
                cmp.failures.append(
                    f"output {i}: requires_grad is {a.requires_grad} for ours, "
                    f"{b.requires_grad} for theirs"
                )
        pairs = [
            (a, b) for a, b in zip(out_ours, out_theirs) if a.requires_grad and b.requires_grad
        ]
        if not pairs:
            return
        upstream = [
            torch.randn(b.shape, generator=generator, dtype=b.dtype).to(b.device)
            for _, b in pairs
        ]
        torch.autograd.backward([a for a, _ in pairs], upstream)
        torch.autograd.backward([b for _, b in pairs], upstream)
        for (label, a), (_, b) in zip(in_ours.tensors(), in_theirs.tensors()):
            if isinstance(a, torch.Tensor) and a.requires_grad:
                cmp.tensors(
                    f"grad.{label}" if label.startswith("input") else f"grad.input.{label}",
                    a.grad,
                    b.grad,
                )
        params_theirs = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            cmp.tensors(f"grad.{name}", p.grad, params_theirs[name].grad)

    @staticmethod
    def _gradcheck(cmp, module, inputs, device, dtype):
        if dtype != torch.float64:
            return None  # finite differences need float64
        names = [name for name, _ in module.named_parameters()]
        params = [p.detach().clone().requires_grad_(True) for _, p in module.named_parameters()]
        positional = inputs.args
        float_at = [
            i
            for i, x in enumerate(positional)
            if isinstance(x, torch.Tensor) and x.is_floating_point()
        ]
        leaves = [positional[i].detach().clone().requires_grad_(True) for i in float_at]

        def fn(*args):
            xs = list(positional)
            for i, leaf in zip(float_at, args[: len(float_at)]):
                xs[i] = leaf
            params = dict(zip(names, args[len(float_at) :]))
            out = torch.func.functional_call(module, params, tuple(xs), dict(inputs.kwargs))
            return tuple(_flatten(out))

        try:
            ok = torch.autograd.gradcheck(
                fn, tuple(leaves + params), eps=1e-6, atol=1e-5, rtol=1e-4
            )
        except Exception as error:  # gradcheck raises with the offending Jacobian entry
            cmp.failures.append(f"gradcheck: {str(error).splitlines()[0]}")
            return False
        return bool(ok)


@dataclass(frozen=True)
class OptimizerPair:
    """A hand-written optimizer and its twin or oracle, stepped side by side on one problem.

    ``problem(generator, dtype) -> (params, loss_fn)``: initial parameter tensors and a function
    of the parameters returning a scalar loss. Both optimizers take ``steps`` steps from copies
    of
    the same parameters; after every step the parameters and the optimizer state are compared.
    Half-way, each side's state_dict is loaded into a fresh optimizer of the other kind, so the
    second half also checks that state_dicts load both ways.
    """

    name: str
    reference: str
    ours: Callable
    theirs: Callable
    problem: Callable
    page: str
    kind: str = "twin"
    cases: tuple = (Case("default"),)
    modes: tuple = ("train",)
    steps: int = 20
    tolerance: dict = field(default_factory=dict)
    # the configuration(s) benchmarks/ times; its ``inputs`` is a problem factory
    bench: Case | tuple | None = None

    def ids(self):
        return [(case, mode) for case in self.cases for mode in self.modes]

    def check(self, case, mode, device="cpu", dtype=torch.float64):
        atol, rtol = self.tolerance.get(dtype, DEFAULT_TOLERANCE[dtype])
        cmp = _Comparison(atol, rtol)
        generator = torch.Generator().manual_seed(SEED)
        start, loss_fn = self.problem(generator, dtype)
        params_ours = [p.detach().clone().to(device).requires_grad_(True) for p in start]
        params_theirs = [p.detach().clone().to(device).requires_grad_(True) for p in start]

        def build(factory, params):
            spec = case.param_groups(params) if case.param_groups else params
            return factory(spec, **case.kwargs)

        opt_ours, opt_theirs = build(self.ours, params_ours), build(self.theirs, params_theirs)
        half = self.steps // 2
        for step in range(1, self.steps + 1):
            for opt, params in ((opt_ours, params_ours), (opt_theirs, params_theirs)):
                opt.zero_grad()
                loss_fn(params).backward()
                opt.step()
            for i, (a, b) in enumerate(zip(params_ours, params_theirs)):
                cmp.tensors("params", a, b)
                state_a, state_b = opt_ours.state.get(a, {}), opt_theirs.state.get(b, {})
                if not cmp.keys(f"state[{i}]", _tensor_keys(state_a), _tensor_keys(state_b)):
                    break
                for key in _tensor_keys(state_a):
                    cmp.tensors(f"state.{key}", state_a[key], state_b[key])
            if cmp.failures:
                break
            if (
                step == half
            ):  # swap state_dicts: ours continues from theirs' state and vice versa
                saved_ours, saved_theirs = opt_ours.state_dict(), opt_theirs.state_dict()
                opt_ours, opt_theirs = (
                    build(self.ours, params_ours),
                    build(self.theirs, params_theirs),
                )
                opt_ours.load_state_dict(saved_theirs)
                opt_theirs.load_state_dict(saved_ours)
        return _result(self, case, mode, device, dtype, cmp, None)


def bench_cases(entry):
    """The cases ``benchmarks/`` times for ``entry``: its ``bench`` as a tuple (maybe empty)."""
    if entry.bench is None:
        return ()
    return entry.bench if isinstance(entry.bench, tuple) else (entry.bench,)


def _result(entry, case, mode, device, dtype, cmp, gradcheck_ok):
    return Result(
        entry.name,
        case.label,
        mode,
        entry.reference,
        entry.kind,
        str(device),
        str(dtype).removeprefix("torch."),
        entry.page,
        cmp.max_abs_err,
        gradcheck_ok,
        tuple(cmp.failures),
        cmp.atol,
        cmp.rtol,
    )


def _tensor_keys(state):
    """Keys of an optimizer's per-parameter state that hold tensors (``None`` placeholders are
    skipped).
    """
    return sorted(k for k, v in state.items() if isinstance(v, torch.Tensor))


def run(entries, device="cpu", dtype=torch.float64, only=None):
    """Check every (case, mode) of every entry whose name contains ``only``; a list of
    ``Result``.
    """
    results = []
    for entry in entries:
        if only and only not in entry.name:
            continue
        for case, mode in entry.ids():
            results.append(entry.check(case, mode, device=device, dtype=dtype))
    return results


def twin(name, *, page, inputs, ours=None, theirs=None, **fields):
    """A ``ModulePair`` against the PyTorch built-in of the same name, in one line.

    ``twin("nn.ReLU", page=..., inputs=...)`` pairs ``byhand.nn.ReLU`` with ``torch.nn.ReLU``;
    ``twin("nn.functional.gelu", ...)`` is not a module: use a ``ModulePair`` with a small
    wrapper.
    ``ours`` / ``theirs`` override the looked-up classes; every other ``ModulePair`` field
    passes
    through (``cases``, ``modes``, ``bench``, ``tolerance``, ...).
    """
    import byhand  # here, not at the top: byhand.verify must import without the whole package

    path = name.split(".")
    ours = ours or _lookup(byhand, path)
    theirs = theirs or _lookup(torch, path)
    return ModulePair(
        name=name,
        reference=f"torch.{name}",
        ours=ours,
        theirs=theirs,
        inputs=inputs,
        page=page,
        **fields,
    )


def family(*members, **shared):
    """One ``twin`` per member: ``family(("nn.ReLU", {}), ("nn.ELU", dict(cases=...)), page=...,
    inputs=...)``.

    Each member is a name, or ``(name, fields)`` whose fields override the shared ones.
    """
    entries = []
    for member in members:
        name, own = (member, {}) if isinstance(member, str) else member
        entries.append(twin(name, **{**shared, **own}))
    return tuple(entries)


def _lookup(root, path):
    obj = root
    for part in path:
        obj = getattr(obj, part)
    return obj
