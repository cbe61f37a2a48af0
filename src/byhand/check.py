"""``byhand check FILE.py:NAME``: your own block, put through the checks byhand's blocks pass.

The file is imported on its own (nothing else of yours runs), ``NAME`` is taken from it and its
PyTorch twin found by name (``GroupNorm`` -> ``torch.nn.GroupNorm``) or with ``--against``.
Then every registry case of that block runs with your class (or function) in the place of
byhand's — the same comparisons of output, input gradient, parameter gradients, buffers and
optimizer state, in float64 — and, where PyTorch's own test tables (``module_db``,
``optim_db``) have the class, every input they give. Each failing case is reported with its
constructor arguments, input shapes, the quantity that diverged and the largest error.

Exit codes: 0 every case passes, 1 one fails, 2 bad usage (one line on stderr).
"""

import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path

import torch

__all__ = ["CheckError", "Outcome", "check", "find_entry", "load", "routed"]

DESCRIPTION = (
    "Check your own implementation (FILE.py:NAME, a module, functional, loss or optimizer) "
    "against its PyTorch twin with the registry's cases and PyTorch's own test inputs."
)


class CheckError(ValueError):
    """Bad usage: a missing file, no such name, no twin found (one line)."""


@dataclasses.dataclass
class Outcome:
    """One case run on the reader's block."""

    source: str  # "registry" or "module_db" / "optim_db"
    block: str  # the registry name or PyTorch class
    case: str
    mode: str
    status: str  # pass, fail, skip
    constructor: str = ""
    inputs: str = ""
    failures: list = dataclasses.field(default_factory=list)
    max_abs_err: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return dataclasses.asdict(self)


# --- loading the reader's file ----------------------------------------------------------------
def load(spec):
    """The object ``NAME`` of ``FILE.py:NAME``, importing only that file."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise CheckError(f"expected FILE.py:NAME (e.g. my_norm.py:GroupNorm), got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise CheckError(f"no file {path_text!r}")
    if not name.isidentifier():
        raise CheckError(f"NAME must be a Python name, got {name!r}")
    module_name = "_byhand_check_" + re.sub(r"\W", "_", path.stem)
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:
        first = str(error).splitlines()[0] if str(error) else ""
        raise CheckError(
            f"{path_text} raised {type(error).__name__} on import: {first}"
        ) from None
    if not hasattr(module, name):
        defined = sorted(
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module_name
        )
        raise CheckError(
            f"{path_text} defines no {name!r}"
            + (f"; it defines: {', '.join(defined)}" if defined else "")
        )
    return getattr(module, name)


# --- finding the twin -------------------------------------------------------------------------
def _normal(name):
    return name.replace("_", "").lower().removesuffix("loss")


def find_entry(name, obj=None, against=None):
    """``(registry entry, byhand object to replace)`` for the reader's ``name``.

    ``against`` is a PyTorch path (``torch.nn.GroupNorm``, ``torch.optim.AdamW``,
    ``torch.nn.functional.gelu``); without it the twin is the block called ``name``.
    """
    import byhand
    from byhand.verify.registry import REGISTRY

    wanted = name
    if against:
        wanted = against.removeprefix("torch.").removeprefix("byhand.")
        if not re.fullmatch(r"[A-Za-z_][\w.]*", wanted):
            raise CheckError(
                f"--against expects a PyTorch path like torch.nn.GroupNorm, got {against!r}"
            )
    by_name = {entry.name: entry for entry in REGISTRY}
    if "." in wanted and wanted in by_name:
        return by_name[wanted], _byhand_object(byhand, wanted)
    last = wanted.rsplit(".", 1)[-1]
    functional = (
        inspect.isfunction(obj)
        or (obj is None and "functional" in wanted)
        or (obj is None and last[:1].islower())
    )
    if functional:
        original = getattr(byhand.nn.functional, last, None)
        if original is None:
            raise CheckError(
                f"no twin found for {wanted!r}: byhand.nn.functional has no {last}"
            )
        direct = f"nn.functional.{last}"
        if direct in by_name:
            return by_name[direct], original
        for entry in REGISTRY:  # the module built on it: gelu -> nn.GELU, mse_loss -> MSELoss
            if entry.name.startswith("nn.") and _normal(entry.name[3:]) == _normal(last):
                return entry, original
        raise CheckError(f"no twin found for {wanted!r}: no registry entry runs {last}")
    exact = [e for e in REGISTRY if e.name.rsplit(".", 1)[-1] == last]
    if not exact:
        near = [e.name for e in REGISTRY if _normal(e.name.rsplit(".", 1)[-1]) == _normal(last)]
        hint = (
            f"; did you mean {near[0]}?"
            if near
            else "; name it as PyTorch does or pass --against torch.nn.X"
        )
        raise CheckError(f"no twin found for {wanted!r}{hint}")
    entry = exact[0]
    return entry, _byhand_object(byhand, entry.name)


def _byhand_object(byhand, registry_name):
    obj = byhand
    for part in registry_name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CheckError(f"no twin found: byhand has no {registry_name}")
    return obj


# --- putting the reader's object in place of ours ---------------------------------------------
class _Calls:
    def __init__(self):
        self.count = 0


@contextlib.contextmanager
def routed(pairs, holders=()):
    """Put each ``new`` in place of its ``original`` (``pairs``: ``[(original, new)]``) wherever
    byhand's modules hold it, and in the closures reachable from ``holders`` (an entry's
    factory); yields ``({id(new): _Calls}, {id(original): new})``, the calls that reach ``new``.

    The registry's factories look blocks up at call time (``byhand.nn.LSTMCell(...)``) or hold
    them in a closure (``_conv_ours("fast")``), so the patched module attributes, table values
    and closure cells route every check through the reader's code. Restored on exit.
    """
    counters, placed, undo = {}, [], []
    for original, new in pairs:
        calls = _Calls()
        counters[id(new)] = calls
        if isinstance(new, type):
            init = new.__init__

            @functools.wraps(init)
            def counted_init(self, *args, __init=init, __calls=calls, **kwargs):
                __calls.count += 1
                __init(self, *args, **kwargs)

            own = "__init__" in vars(new)
            new.__init__ = counted_init
            undo.append(
                (lambda cls=new, init=init: setattr(cls, "__init__", init))
                if own
                else (lambda cls=new: delattr(cls, "__init__"))
            )
            placed.append((original, new))
        else:

            @functools.wraps(new)
            def counted(*args, __fn=new, __calls=calls, **kwargs):
                __calls.count += 1
                return __fn(*args, **kwargs)

            placed.append((original, counted))
    swap = {id(original): new for original, new in placed}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "byhand" or module_name.startswith("byhand.")):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in swap:
                setattr(module, attr, swap[id(value)])
                undo.append(lambda m=module, a=attr, v=value: setattr(m, a, v))
            elif isinstance(value, dict):  # a table of functions: {"closed form": ...}
                for key, item in list(value.items()):
                    if id(item) in swap:
                        value[key] = swap[id(item)]
                        undo.append(lambda d=value, k=key, v=item: d.__setitem__(k, v))
    seen = set()
    for root in holders:
        _patch_cells(root, swap, undo, seen, depth=4)
    try:
        yield counters, dict((id(o), n) for o, n in placed)
    finally:
        for step in reversed(undo):
            step()


def _patch_cells(obj, swap, undo, seen, depth):
    """Swap originals held in closure cells reachable from ``obj`` (functions, partials and the
    methods of a class defined in a closure), ``depth`` levels down."""
    if depth == 0 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, functools.partial):
        for item in (obj.func, *obj.args, *obj.keywords.values()):
            _patch_cells(item, swap, undo, seen, depth - 1)
    elif isinstance(obj, type):
        if not obj.__module__.startswith("byhand"):
            return
        for item in vars(obj).values():
            _patch_cells(item, swap, undo, seen, depth - 1)
    elif inspect.isfunction(obj):
        for cell in obj.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if id(value) in swap:
                cell.cell_contents = swap[id(value)]
                undo.append(lambda c=cell, v=value: setattr(c, "cell_contents", v))
            else:
                _patch_cells(value, swap, undo, seen, depth - 1)


def substituted(entry, replacement):
    """``entry`` with its ``ours`` swapped by ``replacement`` (``{id(original): new}``): the
    factory itself, or an object a factory closure holds (``Lookahead`` is built that way)."""
    ours = entry.ours
    if id(ours) in replacement:
        return dataclasses.replace(entry, ours=replacement[id(ours)])
    cells = getattr(ours, "__closure__", None) or ()
    if any(id(cell.cell_contents) in replacement for cell in cells):
        code, defaults = ours.__code__, ours.__defaults__
        new_cells = tuple(
            _cell(replacement.get(id(cell.cell_contents), cell.cell_contents)) for cell in cells
        )
        rebuilt = type(ours)(code, ours.__globals__, ours.__name__, defaults, new_cells)
        rebuilt.__kwdefaults__ = ours.__kwdefaults__
        return dataclasses.replace(entry, ours=rebuilt)
    return entry


def _cell(value):
    return (lambda: value).__closure__[0]


# --- describing a case ------------------------------------------------------------------------
QUANTITIES = (
    (r"^forward(\[\d+\])?$", "output{0}"),
    (r"^init$", "initial parameters (state_dict from the same seed)"),
    (r"^grad\.input(\d+)$", "input grad (argument {0})"),
    (r"^grad\.input\.(\w+)$", "input grad ({0})"),
    (r"^grad\.(.+)$", "grad of parameter {0}"),
    (r"^buffer\.(.+)$", "buffer {0}"),
    (r"^state\.(.+)$", "optimizer state {0}"),
    (r"^params$", "parameters after a step"),
    (r"^lr$|^group", "learning rate"),
)


def quantity(label):
    """Plain words for a comparison label: ``buffer.running_var`` -> ``buffer running_var``."""
    for pattern, words in QUANTITIES:
        match = re.match(pattern, label)
        if match:
            return words.format(*(g or "" for g in match.groups()))
    return label


def _explain(failure):
    label, sep, rest = failure.partition(":")
    if not sep or " " in label:
        return failure
    return f"{quantity(label)} [{label}]:{rest}"


def _shapes(entry, case):
    from byhand.verify.pairs import SEED, as_args

    make = case.inputs or getattr(entry, "inputs", None)
    if make is None:
        problem = getattr(entry, "problem", None)
        if problem is None:
            return ""
        params, _ = problem(torch.Generator().manual_seed(SEED), torch.float64)
        return "params " + ", ".join(str(tuple(p.shape)) for p in params)
    try:
        made = as_args(make(torch.Generator().manual_seed(SEED), torch.float64))
    except TypeError:  # a schedule's optimizer factory
        return ""
    return ", ".join(
        f"{label} {tuple(value.shape)}"
        for label, value in made.tensors()
        if isinstance(value, torch.Tensor)
    )


def _accepts(obj, kwargs):
    """The keyword arguments of ``kwargs`` that ``obj``'s signature does not take."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    return [k for k in kwargs if k not in signature.parameters]


# --- running ----------------------------------------------------------------------------------
def check(obj, entry, original, torch_tables=True, stop_after=None):
    """Every registry case of ``entry`` (and PyTorch's table inputs) run with ``obj`` in place
    of byhand's ``original``; a list of ``Outcome``. ``stop_after``: stop once that many cases
    have failed (the tables are then skipped too)."""
    outcomes = []
    used = _without_speed_switches(obj, entry)
    with routed([(original, used)], holders=(entry.ours,)) as (counters, replacement):
        routed_entry = substituted(entry, replacement)
        for case, mode in entry.ids():
            outcome = Outcome(
                "registry",
                entry.name,
                case.label,
                mode,
                "pass",
                constructor=", ".join(f"{k}={v!r}" for k, v in case.kwargs.items()),
                inputs=_shapes(entry, case),
            )
            wanted = {k: v for k, v in case.kwargs.items() if used is obj or k not in SPEED}
            missing = _accepts(obj, wanted) if isinstance(obj, type) else []
            if missing:
                outcome.status = "skip"
                outcome.failures = [f"{obj.__name__} takes no {', '.join(missing)}"]
            else:
                try:
                    result = routed_entry.check(case, mode, device="cpu", dtype=torch.float64)
                except Exception as error:
                    outcome.status = "fail"
                    outcome.failures = [f"raised {_one_line(error)}"]
                else:
                    outcome.max_abs_err = result.max_abs_err
                    if not result.passed:
                        outcome.status = "fail"
                        outcome.failures = [_explain(f) for f in result.failures]
            outcomes.append(outcome)
            if stop_after and sum(o.status == "fail" for o in outcomes) >= stop_after:
                torch_tables = False
                break
        if torch_tables and isinstance(obj, type):
            outcomes += _tables(obj, entry)
        calls = counters[id(used)].count
    if calls == 0:
        raise CheckError(
            f"the checks of {entry.name} never reached {getattr(obj, '__name__', obj)}: "
            "cannot route them through it"
        )
    return outcomes


# Optimizer switches that change how fast, not what: a reader's class may leave them out.
SPEED = ("foreach", "fused", "capturable", "differentiable")


def _without_speed_switches(obj, entry):
    """``obj``, or for an optimizer class without ``foreach`` & co. a factory dropping them."""
    if not (isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)):
        return obj
    given = {k for case in entry.cases for k in case.kwargs if k in SPEED}
    dropped = set(_accepts(obj, dict.fromkeys(given)))
    if not dropped:
        return obj

    @functools.wraps(obj, updated=())
    def build(params, **kwargs):
        return obj(params, **{k: v for k, v in kwargs.items() if k not in dropped})

    return build


def _one_line(error):
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}".strip()


def _tables(cls, entry):
    from byhand.verify import torch_tables

    outcomes = []
    theirs = _torch_object(entry.reference)
    if entry.kind != "twin" or not isinstance(theirs, type):
        return outcomes
    if issubclass(theirs, torch.nn.Module):
        from torch.testing._internal.common_modules import module_db

        for info in module_db:
            if info.module_cls is not theirs:
                continue
            for training in (True, False):
                for module_input in torch_tables.module_inputs(info, training=training):
                    result = torch_tables.run_module_input(info, cls, module_input, training)
                    outcomes.append(_from_table(result, module_input.constructor_input))
    elif issubclass(theirs, torch.optim.Optimizer):
        from torch.testing._internal.common_optimizers import optim_db

        for info in optim_db:
            if info.optim_cls is not theirs:
                continue
            for optim_input in info.optim_inputs_func(device="cpu", dtype=torch.float64):
                result = torch_tables.run_optimizer_input(info, cls, optim_input)
                outcomes.append(_from_table(result, optim_input))
    return outcomes


def _torch_object(path):
    """``torch.nn.LSTMCell`` for the reference ``"torch.nn.LSTMCell"``; None if not one."""
    if not path.startswith("torch."):
        return None
    obj = torch
    for part in path.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _from_table(result, constructor):
    kwargs = getattr(constructor, "kwargs", {}) or {}
    args = getattr(constructor, "args", ()) or ()
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    failures = [_explain(r) for r in result.reason.split("; ")] if result.reason else []
    return Outcome(
        result.table,
        f"torch.{'nn' if result.table == 'module_db' else 'optim'}.{result.name}",
        result.desc,
        result.mode,
        result.status,
        constructor=shown,
        failures=failures,
        max_abs_err=result.max_abs_err,
    )


# --- the command ------------------------------------------------------------------------------
def add_arguments(parser):
    """``byhand check FILE.py:NAME [--against torch.nn.X] [--json] [--no-torch-tables]``."""
    parser.add_argument("target", metavar="FILE.py:NAME", help="your file and the name in it")
    parser.add_argument(
        "--against",
        metavar="TWIN",
        help="the PyTorch block to check against (torch.nn.GroupNorm, torch.optim.AdamW, "
        "torch.nn.functional.gelu); default: the one called NAME",
    )
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    parser.add_argument(
        "--no-torch-tables",
        action="store_true",
        help="run only the registry's cases, not PyTorch's module_db / optim_db inputs",
    )


def run(args, parser):
    """The ``check`` command: 0 all pass, 1 a case fails, 2 bad usage."""
    try:
        obj = load(args.target)
        name = args.target.rpartition(":")[2]
        entry, original = find_entry(name, obj, args.against)
        outcomes = check(obj, entry, original, torch_tables=not args.no_torch_tables)
    except CheckError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    failed = [o for o in outcomes if o.status == "fail"]
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=1))
    else:
        _print(outcomes, failed, entry, args.target)
    return 1 if failed else 0


def _print(outcomes, failed, entry, target):
    for o in failed:
        where = f"{o.block} [{o.case}, {o.mode}]"
        detail = "; ".join(
            x for x in (o.constructor and f"args {o.constructor}", o.inputs) if x
        )
        print(f"FAIL {where}" + (f" ({detail})" if detail else ""))
        for failure in o.failures:
            print(f"     {failure}")
    passed = sum(o.status == "pass" for o in outcomes)
    skipped = [o for o in outcomes if o.status == "skip"]
    reasons = sorted({f for o in skipped for f in o.failures})
    summary = f"{target} against {entry.reference}: {passed} passed, {len(failed)} failed"
    summary += f", {len(skipped)} skipped" if skipped else ""
    print(summary)
    if reasons:
        shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
        print(f"skipped: {shown}")
