"""The registry under ``torch.compile``: each block compiled gives what it gives eager.

``python -m byhand.verify --compiled [--only SUBSTRING]`` runs, for every module entry, its
first case in its first mode: the block built from one seed, run eager and through
``torch.compile`` (Inductor, on the same weights and inputs), forward output, input gradients
and parameter gradients compared at the entry's tolerance. ``torch._dynamo.explain`` counts the
graphs and graph breaks of ours and of PyTorch's twin on the same inputs: a break of ours where
the twin has none is a defect to fix.

Random blocks (dropout and friends) compare equal because ``fallback_random`` makes compiled
code draw from the eager generator.
"""

import copy
import time
from dataclasses import dataclass

import torch

from byhand.verify.pairs import (
    DEFAULT_TOLERANCE,
    SEED,
    ModulePair,
    _Comparison,
    _flatten,
    _leaf_copies,
    _seeded,
    as_args,
)


@dataclass(frozen=True)
class CompiledResult:
    """One entry compiled: equal to eager or not, and the graph breaks of ours and theirs."""

    name: str
    case: str
    mode: str
    device: str
    dtype: str
    max_abs_err: dict
    failures: tuple
    graphs: int | None
    breaks: int | None
    break_reasons: tuple
    theirs_graphs: int | None
    theirs_breaks: int | None
    compile_s: float

    @property
    def passed(self):
        return not self.failures

    @property
    def extra_breaks(self):
        """Breaks of ours beyond those of PyTorch's twin (0 when both are counted and equal)."""
        if self.breaks is None or self.theirs_breaks is None or self.theirs_breaks < 0:
            return None  # negative: explain traced no graph of the twin (e.g. torch's RNNs)
        return max(0, self.breaks - self.theirs_breaks)

    def to_dict(self):
        return {
            "name": self.name,
            "case": self.case,
            "mode": self.mode,
            "device": self.device,
            "dtype": self.dtype,
            "max_abs_err": self.max_abs_err,
            "passed": self.passed,
            "failures": list(self.failures),
            "graphs": self.graphs,
            "breaks": self.breaks,
            "break_reasons": list(self.break_reasons),
            "theirs_graphs": self.theirs_graphs,
            "theirs_breaks": self.theirs_breaks,
            "compile_s": round(self.compile_s, 2),
        }


def _build(factory, case, mode, device, dtype):
    module = _seeded("cpu", lambda: factory(**copy.deepcopy(case.kwargs)))
    return module.to(device=device, dtype=dtype).train(mode == "train")


def _run(module, inputs, device, upstream=None, call=None):
    """Forward (seeded) and, when ``upstream`` is given, backward: outputs and gradients.

    ``call`` (default ``module``) runs the forward: the compiled wrapper of ``module``.
    """
    call = module if call is None else call
    leaves = _leaf_copies(inputs)
    for p in module.parameters():
        p.grad = None
    outs = _flatten(_seeded(device, lambda: call(*leaves.args, **leaves.kwargs)))
    grads = {}
    if upstream is not None:
        pairs = [(o, u) for o, u in zip(outs, upstream) if o.requires_grad]
        if pairs:
            torch.autograd.backward([o for o, _ in pairs], [u for _, u in pairs])
        for label, leaf in leaves.tensors():
            if isinstance(leaf, torch.Tensor) and leaf.requires_grad:
                grads[f"grad.{label}"] = leaf.grad
        for name, p in module.named_parameters():
            grads[f"grad.{name}"] = p.grad
    return outs, grads


def explain(module, inputs):
    """``(graphs, breaks, reasons)`` of ``torch._dynamo.explain`` on one forward."""
    torch._dynamo.reset()
    leaves = _leaf_copies(inputs)
    try:
        result = torch._dynamo.explain(module)(*leaves.args, **leaves.kwargs)
    except Exception as error:  # a block dynamo cannot trace at all
        return None, None, (f"explain failed: {str(error).splitlines()[0][:200]}",)
    reasons = tuple(
        dict.fromkeys(
            str(getattr(b, "reason", b)).splitlines()[0][:200] for b in result.break_reasons
        )
    )
    return result.graph_count, result.graph_break_count, reasons


def check_compiled(
    entry, device="cpu", dtype=torch.float64, case=None, mode=None, backend="inductor"
):
    """Compile ours for one (case, mode) of ``entry``; compare with eager and count breaks.

    ``backend``: ``torch.compile``'s; ``"aot_eager"`` traces the same graphs (dynamo and
    AOTAutograd, so the same breaks) without generating code, for a quick test.
    """
    import torch._inductor.config as inductor_config

    case = case or entry.cases[0]
    mode = mode or entry.modes[0]
    atol, rtol = entry.tolerance.get(dtype, DEFAULT_TOLERANCE[dtype])
    cmp = _Comparison(atol, rtol)
    make_inputs = case.inputs or entry.inputs
    inputs = as_args(make_inputs(torch.Generator().manual_seed(SEED), dtype)).map(
        lambda x: x.to(device) if isinstance(x, torch.Tensor) else x
    )
    eager = _build(entry.ours, case, mode, device, dtype)
    eager_outs, _ = _run(eager, inputs, device)
    generator = torch.Generator().manual_seed(SEED + 1)
    upstream = [
        torch.randn(o.shape, generator=generator, dtype=o.dtype).to(o.device)
        for o in eager_outs
    ]
    eager = _build(entry.ours, case, mode, device, dtype)  # fresh buffers for the real run
    eager_outs, eager_grads = _run(eager, inputs, device, upstream)

    torch._dynamo.reset()
    compiled_module = _build(entry.ours, case, mode, device, dtype)
    started = time.perf_counter()
    with inductor_config.patch(fallback_random=True):
        try:
            compiled = torch.compile(compiled_module, backend=backend)
            outs, grads = _run(compiled_module, inputs, device, upstream, call=compiled)
        except Exception as error:
            outs, grads = None, {}
            cmp.failures.append(f"compile failed: {str(error).splitlines()[0][:300]}")
    compile_s = time.perf_counter() - started
    if outs is not None:
        if len(outs) != len(eager_outs):
            cmp.failures.append(f"forward: {len(outs)} outputs, eager gives {len(eager_outs)}")
        for i, (a, b) in enumerate(zip(outs, eager_outs)):
            cmp.tensors("forward" if len(outs) == 1 else f"forward[{i}]", a, b)
        for key, value in eager_grads.items():
            cmp.tensors(key, grads.get(key), value)
        for (name, a), (_, b) in zip(
            sorted(compiled_module.named_buffers()), sorted(eager.named_buffers())
        ):
            if a.is_floating_point():
                cmp.tensors(f"buffer.{name}", a, b)
    graphs, breaks, reasons = explain(_build(entry.ours, case, mode, device, dtype), inputs)
    theirs_graphs, theirs_breaks, _ = explain(
        _build(entry.theirs, case, mode, device, dtype), inputs
    )
    torch._dynamo.reset()
    return CompiledResult(
        entry.name,
        case.label,
        mode,
        str(device),
        str(dtype).removeprefix("torch."),
        cmp.max_abs_err,
        tuple(cmp.failures),
        graphs,
        breaks,
        reasons,
        theirs_graphs,
        theirs_breaks,
        compile_s,
    )


def run_compiled(
    entries,
    device="cpu",
    dtype=torch.float64,
    only=None,
    progress=None,
    backend="inductor",
    budget_s=None,
    skipped=None,
):
    """``check_compiled`` for every module entry whose name contains ``only``.

    ``budget_s``: start no entry after that many seconds; the names not run are appended to
    ``skipped`` (a list) when one is given.
    """
    results = []
    started = time.monotonic()
    for entry in entries:
        if not isinstance(entry, ModulePair) or (only and only not in entry.name):
            continue
        if budget_s is not None and time.monotonic() - started > budget_s:
            if skipped is not None:
                skipped.append(entry.name)
            continue
        result = check_compiled(entry, device, dtype, backend=backend)
        results.append(result)
        if progress:
            progress(result)
    return results
