"""PyTorch's own test inputs, run against byhand: ``module_db`` and ``optim_db``.

PyTorch tests every ``torch.nn`` module from a table written by its developers
(``module_db`` in ``torch.testing._internal.common_modules``: per class, a function yielding
constructor and forward arguments) and every optimizer from another (``optim_db``). For each
class byhand has under the same name, this module runs **every** input those tables give:

* modules: build PyTorch's module, load its state_dict into ours with ``strict=True``, call both
  with the same args and kwargs (same RNG seed), compare every output, the gradient of every
  input that requires one, every parameter gradient and every buffer, in train and eval mode;
* optimizers: step both 20 times with a closure from the same parameters, comparing parameters
  and state after every step; and every construction-time error input must raise the same
  exception type in ours as in PyTorch's.

An input byhand deliberately does not support must make ours raise ``NotImplementedError``,
``ValueError`` or ``TypeError`` while PyTorch's accepts it: it is then reported as ``skip`` with
our error message as the reason. A mismatch is always a failure, never a skip.

``python -m byhand.verify --torch-tables [--json]`` prints the results,
``tests/test_torch_tables.py`` asserts them, the docs build tabulates them (Verification page).
"""

import copy
import warnings
from dataclasses import asdict, dataclass, field

import torch

from byhand.verify.pairs import (
    DEFAULT_TOLERANCE,
    SEED,
    _Comparison,
    _flatten,
    _seeded,
    _tensor_keys,
)

# Errors with which ours may decline an input it deliberately does not support.
DECLINED = (NotImplementedError, ValueError, TypeError)
STEPS = 20


@dataclass
class TableResult:
    """One input of PyTorch's table, run once: ``status`` is ``pass``, ``fail`` or ``skip``."""

    table: str  # "module_db" or "optim_db"
    name: str  # class name, e.g. "Linear"
    desc: str  # PyTorch's description of the input
    mode: str  # "train" / "eval" (modules), "step" / "error" (optimizers)
    status: str
    reason: str = ""
    max_abs_err: dict = field(default_factory=dict)

    def to_dict(self):
        return {**asdict(self), "torch": torch.__version__}


def _describe(error):
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".strip()


# --- modules ----------------------------------------------------------------------------------
def module_entries():
    """``(ModuleInfo, our class)`` for every ``module_db`` class byhand has by that name."""
    from torch.testing._internal.common_modules import module_db

    import byhand.nn

    pairs = []
    for info in module_db:
        ours = getattr(byhand.nn, info.module_cls.__name__, None)
        if isinstance(ours, type) and issubclass(ours, torch.nn.Module):
            pairs.append((info, ours))
    return pairs


def module_inputs(info, device="cpu", dtype=torch.float64, training=True):
    """PyTorch's ``ModuleInput``s for ``info``, drawn from a fixed seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return info.module_inputs_func(
            info, device=device, dtype=dtype, requires_grad=True, training=training
        )


def _fresh(x):
    """A copy of one forward argument for one side: new leaves, same ``requires_grad``."""
    if isinstance(x, torch.Tensor):
        leaf = x.detach().clone()
        return leaf.requires_grad_(x.requires_grad) if x.is_floating_point() else leaf
    if isinstance(x, (tuple, list)):
        return type(x)(_fresh(item) for item in x)
    return copy.deepcopy(x)


def _tensor_leaves(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _tensor_leaves(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensor_leaves(item)]
    return []


def _outputs(out):
    """Tensors of a forward's result, ``None`` kept in place (``need_weights=False``)."""
    if out is None:
        return [None]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _outputs(item)]
    return _flatten(out)


def run_module_input(info, ours_cls, module_input, training, device="cpu", dtype=torch.float64):
    """Run one ``ModuleInput`` through PyTorch's class and ours; a ``TableResult``."""
    name, mode = info.module_cls.__name__, "train" if training else "eval"
    desc = module_input.desc or "default"
    atol, rtol = DEFAULT_TOLERANCE[dtype]
    cmp = _Comparison(atol, rtol)

    def result(status, reason=""):
        return TableResult("module_db", name, desc, mode, status, reason, cmp.max_abs_err)

    constructor = module_input.constructor_input
    c_args, c_kwargs = constructor.args, constructor.kwargs
    theirs = _seeded("cpu", lambda: info.module_cls(*_fresh(c_args), **copy.deepcopy(c_kwargs)))
    try:
        ours = _seeded("cpu", lambda: ours_cls(*_fresh(c_args), **copy.deepcopy(c_kwargs)))
    except DECLINED as error:
        return result("skip", f"constructor declined: {_describe(error)}")
    try:
        ours.load_state_dict(theirs.state_dict(), strict=True)
    except RuntimeError as error:
        return result("fail", f"state_dict does not load strictly: {_describe(error)}")
    for module in (ours, theirs):
        module.to(device=device, dtype=dtype).train(training)

    f_args, f_kwargs = module_input.forward_input.args, module_input.forward_input.kwargs
    args_theirs, kwargs_theirs = _fresh(f_args), _fresh(f_kwargs)
    args_ours, kwargs_ours = _fresh(f_args), _fresh(f_kwargs)
    try:
        out_theirs = _seeded(device, lambda: theirs(*args_theirs, **kwargs_theirs))
    except Exception as error:  # an input PyTorch's own class rejects is not ours to judge
        return result("skip", f"torch.nn.{name} raises on it: {_describe(error)}")
    try:
        out_ours = _seeded(device, lambda: ours(*args_ours, **kwargs_ours))
    except DECLINED as error:
        return result("skip", f"declined: {_describe(error)}")
    except Exception as error:
        return result("fail", f"ours raises {_describe(error)}")

    outs_ours, outs_theirs = _outputs(out_ours), _outputs(out_theirs)
    if len(outs_ours) != len(outs_theirs):
        return result("fail", f"{len(outs_ours)} outputs != {len(outs_theirs)}")
    for i, (a, b) in enumerate(zip(outs_ours, outs_theirs)):
        cmp.tensors("forward" if len(outs_ours) == 1 else f"forward[{i}]", a, b)

    pairs = [
        (a, b)
        for a, b in zip(outs_ours, outs_theirs)
        if a is not None and b is not None and b.requires_grad and b.is_floating_point()
    ]
    for a, _ in pairs:
        if not a.requires_grad:
            cmp.failures.append("an output requires grad for torch but not for ours")
    pairs = [(a, b) for a, b in pairs if a.requires_grad]
    if pairs:
        generator = torch.Generator().manual_seed(SEED)
        upstream = [
            torch.randn(b.shape, generator=generator, dtype=b.dtype).to(b.device)
            for _, b in pairs
        ]
        torch.autograd.backward([a for a, _ in pairs], upstream)
        torch.autograd.backward([b for _, b in pairs], upstream)
        leaves_ours = _tensor_leaves((args_ours, kwargs_ours))
        leaves_theirs = _tensor_leaves((args_theirs, kwargs_theirs))
        for i, (a, b) in enumerate(zip(leaves_ours, leaves_theirs)):
            if a.requires_grad:
                cmp.tensors(f"grad.input{i}", a.grad, b.grad)
        params_theirs = dict(theirs.named_parameters())
        for pname, p in ours.named_parameters():
            cmp.tensors(f"grad.{pname}", p.grad, params_theirs[pname].grad)

    buffers_theirs = dict(theirs.named_buffers())
    for bname, a in ours.named_buffers():
        b = buffers_theirs.get(bname)
        if b is None:
            cmp.failures.append(f"buffer {bname} only in ours")
        elif a.is_floating_point():
            cmp.tensors(f"buffer.{bname}", a, b)
        elif not torch.equal(a.cpu(), b.cpu()):
            cmp.failures.append(f"buffer.{bname}: {a.tolist()} != {b.tolist()}")
    if cmp.failures:
        return result("fail", "; ".join(cmp.failures))
    return result("pass")


def run_modules(device="cpu", dtype=torch.float64, only=None):
    results = []
    for info, ours_cls in module_entries():
        if only and only != info.module_cls.__name__:
            continue
        for training in (True, False):
            for module_input in module_inputs(info, device, dtype, training):
                results.append(
                    run_module_input(info, ours_cls, module_input, training, device, dtype)
                )
    return results


# --- optimizers -------------------------------------------------------------------------------
def optimizer_entries():
    """``(OptimizerInfo, our class)`` for every ``optim_db`` class byhand has by that name."""
    from torch.testing._internal.common_optimizers import optim_db

    import byhand.optim

    pairs = []
    for info in optim_db:
        ours = getattr(byhand.optim, info.optim_cls.__name__, None)
        if isinstance(ours, type) and issubclass(ours, torch.optim.Optimizer):
            pairs.append((info, ours))
    return pairs


def _problem(device, dtype):
    """Three parameters (a matrix, a vector, a scalar) and a non-convex loss of them."""
    g = torch.Generator().manual_seed(SEED)
    start = [
        torch.randn(3, 4, generator=g, dtype=dtype),
        torch.randn(3, generator=g, dtype=dtype),
        torch.randn((), generator=g, dtype=dtype),
    ]
    x = torch.randn(8, 4, generator=g, dtype=dtype).to(device)
    y = torch.randn(8, 3, generator=g, dtype=dtype).to(device)

    def loss(params):
        w, b, s = params
        return ((torch.tanh(x @ w.T + b) * s - y) ** 2).mean() + 0.01 * (w**4).sum()

    return start, loss


def run_optimizer_input(info, ours_cls, optim_input, device="cpu", dtype=torch.float64):
    name, desc = info.optim_cls.__name__, optim_input.desc or "default"
    atol, rtol = DEFAULT_TOLERANCE[dtype]
    cmp = _Comparison(atol, rtol)

    def result(status, reason=""):
        return TableResult("optim_db", name, desc, "step", status, reason, cmp.max_abs_err)

    start, loss_fn = _problem(device, dtype)
    params_ours = [p.clone().to(device).requires_grad_(True) for p in start]
    params_theirs = [p.clone().to(device).requires_grad_(True) for p in start]
    kwargs = optim_input.kwargs
    try:
        opt_theirs = info.optim_cls(params_theirs, **copy.deepcopy(kwargs))
    except Exception as error:
        return result("skip", f"torch.optim.{name} raises on it: {_describe(error)}")
    try:
        opt_ours = ours_cls(params_ours, **copy.deepcopy(kwargs))
    except DECLINED as error:
        return result("skip", f"constructor declined: {_describe(error)}")

    def closure_for(opt, params):
        def closure():
            opt.zero_grad()
            value = loss_fn(params)
            value.backward()
            return value

        return closure

    for _ in range(STEPS):
        try:
            loss_ours = opt_ours.step(closure_for(opt_ours, params_ours))
        except DECLINED as error:
            return result("skip", f"step declined: {_describe(error)}")
        loss_theirs = opt_theirs.step(closure_for(opt_theirs, params_theirs))
        cmp.tensors("loss", loss_ours, loss_theirs)
        for i, (a, b) in enumerate(zip(params_ours, params_theirs)):
            cmp.tensors("params", a, b)
            state_a, state_b = opt_ours.state.get(a, {}), opt_theirs.state.get(b, {})
            keys = _tensor_keys(state_b)
            if not cmp.keys(f"state[{i}]", _tensor_keys(state_a), keys):
                break
            for key in keys:
                cmp.tensors(f"state.{key}", state_a[key], state_b[key])
        if cmp.failures:
            return result("fail", "; ".join(cmp.failures))
    return result("pass")


def run_optimizer_error(info, ours_cls, error_input, device="cpu", dtype=torch.float64):
    """A construction-time error input: ours must raise the same exception type as PyTorch's."""
    from torch.testing._internal.common_optimizers import OptimizerErrorEnum

    name = info.optim_cls.__name__
    inner = error_input.optimizer_error_input
    desc = inner.desc or "error"
    if error_input.error_on != OptimizerErrorEnum.CONSTRUCTION_ERROR:
        return None  # step-time errors (sparse gradients, ...): the chapter's own tests
    params = inner.params if inner.params is not None else [torch.zeros(2, dtype=dtype)]
    if issubclass(error_input.error_type, Warning):  # PyTorch warns here: ours must warn alike
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours_cls(params, **inner.kwargs)
        warned = any(issubclass(w.category, error_input.error_type) for w in caught)
        expected = error_input.error_type.__name__
        reason = "" if warned else f"expected a {expected}, none was issued"
        status = "pass" if warned else "fail"
        return TableResult("optim_db", name, desc, "error", status, reason)
    try:
        ours_cls(params, **inner.kwargs)
    except error_input.error_type:
        return TableResult("optim_db", name, desc, "error", "pass")
    except Exception as error:
        return TableResult(
            "optim_db",
            name,
            desc,
            "error",
            "fail",
            f"expected {error_input.error_type.__name__}, ours raised {_describe(error)}",
        )
    return TableResult(
        "optim_db",
        name,
        desc,
        "error",
        "fail",
        f"expected {error_input.error_type.__name__}, ours raised nothing",
    )


def run_optimizers(device="cpu", dtype=torch.float64, only=None):
    results = []
    for info, ours_cls in optimizer_entries():
        if only and only != info.optim_cls.__name__:
            continue
        for optim_input in info.optim_inputs_func(device=device, dtype=dtype):
            results.append(run_optimizer_input(info, ours_cls, optim_input, device, dtype))
        for error_input in info.optim_error_inputs_func(device=device, dtype=dtype):
            checked = run_optimizer_error(info, ours_cls, error_input, device, dtype)
            if checked is not None:
                results.append(checked)
    return results


def run(device="cpu", dtype=torch.float64, only=None):
    """Every input of both tables for every class byhand has: a list of ``TableResult``."""
    return run_modules(device, dtype, only) + run_optimizers(device, dtype, only)
