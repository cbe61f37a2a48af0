"""Compare a model with a reference module by module: where do their outputs first part?

``ModuleVerifier(model, reference).compare(*inputs)`` hooks **every** named submodule of both
models (``named_modules``, so ``layer3.1.conv2``, not only top-level attributes), runs both on
clones of the same inputs from the same RNG state, and compares, call by call:

* each module call's output (a module called several times, a shared ``ReLU``, is compared
  call by call);
* with ``backward=True``, the gradient with respect to each module call's output, each
  parameter's gradient and each floating input's gradient;
* every buffer after the pass (a train-mode batch norm updates its running statistics).

The report has one row per comparison and names ``first_divergence``: the earliest-finishing
module call whose output parts. A child finishes before the block that calls it, so this is the
deepest module where the two first disagree: a leaf such as ``layer3.1.conv2``, not
``layer3.1``.
"""

import contextlib
import dataclasses
import math
from dataclasses import dataclass

import torch
from torch.utils._pytree import tree_flatten, tree_map

__all__ = ["TOLERANCES", "ModuleVerifier", "Row", "VerificationReport", "compare_tensors"]

# (atol, rtol) per dtype: a tensor passes when max |ours - ref| <= atol + rtol * max |ref|.
TOLERANCES = {
    torch.float64: (1e-10, 1e-7),
    torch.float32: (1e-5, 1e-4),
    torch.bfloat16: (1e-2, 2e-2),
    torch.float16: (1e-3, 1e-3),
}
INPUTS_DIFFER = "its inputs already differ"
KINDS = ("output", "buffer", "output grad", "param grad", "input grad")


@dataclass(frozen=True)
class Row:
    """One comparison: a module call's output, a gradient or a buffer."""

    name: str  # qualified name: a module's ("" is the model itself), a parameter's, a buffer's
    call: int  # which call of the module in the pass (0, 1, ...); 0 for the other kinds
    kind: str  # one of KINDS
    shape: tuple
    max_abs_error: float
    cosine: float
    atol: float
    rtol: float
    passed: bool
    note: str = ""
    caller: str | None = None  # the module whose forward made this call (outputs only)

    @property
    def module(self):
        """The module the row belongs to (a parameter's or a buffer's owner)."""
        if self.kind in ("buffer", "param grad"):
            return self.name.rpartition(".")[0]
        return self.name


@dataclass
class VerificationReport:
    """The rows of one ``compare``: outputs in the order the model's calls finished, then
    buffers, then output gradients in the order backward produced them, then parameter and
    input gradients."""

    rows: list

    def of(self, kind):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return [row for row in self.rows if row.kind == kind]

    @property
    def failures(self):
        return [row for row in self.rows if not row.passed]

    @property
    def passed(self):
        return not self.failures

    def _first(self, *kinds):
        for kind in kinds:
            for row in self.of(kind):
                if not row.passed:
                    return row
        return None

    @property
    def first_divergent_row(self):
        """The row ``first_divergence`` comes from, or ``None``."""
        return self._first("output", "buffer")

    @property
    def first_divergence(self):
        """The qualified name of the earliest-finishing (so deepest) module call whose output
        parts; when every output agrees, the module owning the first buffer that parts; else
        ``None``."""
        row = self.first_divergent_row
        return None if row is None else row.module

    @property
    def suspect(self):
        """Where to look: ``first_divergence``, or, when that call's inputs already differ,
        the module that made the call: the difference came from its own code between its
        submodules (a residual add, a reshape, a functional op)."""
        row = self.first_divergent_row
        if row is None:
            return None
        if row.kind == "output" and row.note == INPUTS_DIFFER and row.caller is not None:
            return row.caller
        return row.module

    @property
    def first_gradient_divergence(self):
        """The module whose output gradient parts first in backward order (the module that
        consumes that output computed it), else the owner of the first parameter gradient that
        parts; ``None`` when every gradient agrees."""
        row = self._first("output grad", "param grad")
        return None if row is None else row.module

    def table(self, kinds=KINDS, failed_only=False, max_rows=None):
        """The rows as a Markdown table."""
        rows = [r for r in self.rows if r.kind in kinds and not (failed_only and r.passed)]
        shown = rows if max_rows is None else rows[:max_rows]
        lines = [
            "| module | call | compared | max abs error | cosine | tolerance | passed |",
            "| --- | ---: | --- | ---: | ---: | --- | --- |",
        ]
        for r in shown:
            name = f"`{r.name}`" if r.name else "(model)"
            note = f" ({r.note})" if r.note else ""
            lines.append(
                f"| {name} | {r.call} | {r.kind}{note} | {r.max_abs_error:.2e} | "
                f"{r.cosine:.6f} | {r.atol:.0e} + {r.rtol:.0e}·max | "
                f"{'yes' if r.passed else '**no**'} |"
            )
        if len(shown) < len(rows):
            lines.append(f"| … {len(rows) - len(shown)} more rows | | | | | | |")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


# --8<-- [start:compare_tensors]
def compare_tensors(ours, reference, tolerances=TOLERANCES):
    """``(max_abs_error, cosine, atol, rtol, passed, note)`` for two lists of tensors."""
    if len(ours) != len(reference):
        note = f"{len(ours)} tensors vs {len(reference)}"
        return math.inf, math.nan, 0.0, 0.0, False, note
    error, dot, norm_a, norm_b, passed = 0.0, 0.0, 0.0, 0.0, True
    atol = rtol = 0.0
    for a, b in zip(ours, reference):
        if a.shape != b.shape:
            note = f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
            return math.inf, math.nan, 0.0, 0.0, False, note
        atol, rtol = tolerances.get(b.dtype, (0.0, 0.0))  # integers: exact
        a, b = a.detach().double().cpu(), b.detach().double().cpu()
        diff = torch.where(a == b, 0.0, (a - b).abs()).nan_to_num(nan=math.inf)
        worst = diff.max().item() if diff.numel() else 0.0
        scale = b.abs().nan_to_num(nan=0.0, posinf=0.0).max().item() if b.numel() else 0.0
        passed = passed and worst <= atol + rtol * scale
        error = max(error, worst)
        dot += (a * b).sum().item()
        norm_a += (a * a).sum().item()
        norm_b += (b * b).sum().item()
    if norm_a == 0.0 and norm_b == 0.0:
        cosine = 1.0 if passed else 0.0
    else:
        cosine = dot / max(math.sqrt(norm_a * norm_b), 1e-300)
    return error, cosine, atol, rtol, passed, ""


# --8<-- [end:compare_tensors]


def _tensors(value):
    return [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]


class _Recorder:
    """Forward hooks on every named module of one model: inputs, outputs, output gradients."""

    def __init__(self, model, backward):
        self.inputs, self.outputs, self.grads = {}, {}, {}
        self.order, self.grad_order = [], []
        self.callers, self._stack = {}, []
        self.backward = backward
        self._calls, self._open = {}, {}
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._pre(name)))
            self.handles.append(module.register_forward_hook(self._post(name)))

    # --8<-- [start:hooks]
    def _pre(self, name):
        def hook(module, args):
            call = self._calls.get(name, 0)
            self._calls[name] = call + 1
            self._open.setdefault(name, []).append(call)  # a module may call itself
            self.callers[name, call] = self._stack[-1] if self._stack else None
            self._stack.append(name)
            # clone now: an in-place op later (ReLU(inplace=True)) would change the tensor
            self.inputs[name, call] = [t.detach().clone() for t in _tensors(args)]

        return hook

    def _post(self, name):
        def hook(module, args, output):
            key = (name, self._open[name].pop())
            self._stack.pop()
            tensors = _tensors(output)
            self.outputs[key] = [t.detach().clone() for t in tensors]
            self.order.append(key)
            if self.backward:
                for index, tensor in enumerate(tensors):
                    if tensor.requires_grad:
                        tensor.register_hook(self._grad(key, index, len(tensors)))

        return hook

    def _grad(self, key, index, count):
        def hook(grad):
            if key not in self.grads:
                self.grads[key] = [None] * count
                self.grad_order.append(key)
            self.grads[key][index] = grad.detach().clone()

        return hook

    # --8<-- [end:hooks]

    def remove(self):
        for handle in self.handles:
            handle.remove()


class ModuleVerifier:
    """Compare ``model`` with ``reference`` (same module names) call by call through hooks.

    ``tolerances`` maps a dtype to ``(atol, rtol)`` (defaults: ``TOLERANCES``).
    """

    def __init__(self, model, reference, *, tolerances=None):
        for label, value in (("model", model), ("reference", reference)):
            if not isinstance(value, torch.nn.Module):
                raise TypeError(
                    f"ModuleVerifier expects torch.nn.Module for {label}, "
                    f"got {type(value).__name__}"
                )
        ours = [name for name, _ in model.named_modules()]
        theirs = [name for name, _ in reference.named_modules()]
        missing_in_model = [name for name in theirs if name not in set(ours)]
        missing_in_reference = [name for name in ours if name not in set(theirs)]
        if missing_in_model or missing_in_reference:
            raise ValueError(
                "ModuleVerifier expects the same module names in both models; "
                f"missing in model: {_short(missing_in_model)}; "
                f"missing in reference: {_short(missing_in_reference)}"
            )
        self.model, self.reference = model, reference
        self.tolerances = {**TOLERANCES, **(tolerances or {})}

    # --8<-- [start:compare]
    def compare(self, *inputs, backward=True, grad=None, **kwargs):
        """Run both models on clones of ``inputs`` (and ``kwargs``) from the same RNG state and
        compare every module call; with ``backward``, also the gradients of the sum of the
        outputs (or of ``grad``, one tensor per floating output). Returns a report."""
        runs = []
        rng = torch.random.fork_rng(devices=_cuda_indices(self.model, inputs, kwargs))
        for model, context in ((self.model, rng), (self.reference, contextlib.nullcontext())):
            with context:  # the model runs on a fork of the RNG; the reference on the original
                runs.append(self._run(model, inputs, kwargs, backward, grad))
        rows = self._output_rows(runs) + self._state_rows(runs, "buffer")
        if backward:
            rows += self._grad_rows(runs) + self._state_rows(runs, "param grad")
            rows += self._input_grad_rows(runs)
        return VerificationReport(rows)

    # --8<-- [end:compare]

    def _run(self, model, inputs, kwargs, backward, grad):
        def clone(value):
            if not isinstance(value, torch.Tensor):
                return value
            copy = value.detach().clone()
            return copy.requires_grad_(backward and copy.is_floating_point())

        args, named = tree_map(clone, list(inputs)), tree_map(clone, dict(kwargs))
        recorder = _Recorder(model, backward)
        try:
            with torch.enable_grad() if backward else torch.no_grad():
                output = model(*args, **named)
                run = {"recorder": recorder, "params": {}, "inputs": []}
                if backward:
                    self._backward(model, output, grad, args + list(named.values()), run)
        finally:
            recorder.remove()
        run["buffers"] = {n: b.detach().clone() for n, b in model.named_buffers()}
        return run

    def _backward(self, model, output, grad, leaves, run):
        outputs = [t for t in _tensors(output) if t.requires_grad]
        if not outputs:
            return
        if grad is None:
            grads = [torch.ones_like(t) for t in outputs]
        else:
            grads = [grad] if isinstance(grad, torch.Tensor) else list(grad)
            if len(grads) != len(outputs):
                raise ValueError(
                    f"compare expects one grad per output that requires grad "
                    f"({len(outputs)}), got {len(grads)}"
                )
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        inputs = [t for t in _tensors(leaves) if t.requires_grad]
        wrt = [p for _, p in params] + inputs
        # one scalar, sum(output · grad): its gradient w.r.t. each output is that grad. (Passing
        # grad_outputs instead makes autograd import sympy on first use: 2 s of CPU.)
        total = sum((t * g.detach()).sum() for t, g in zip(outputs, grads))
        got = torch.autograd.grad(total, wrt, allow_unused=True)
        run["params"] = {n: g for (n, _), g in zip(params, got)}
        run["inputs"] = list(got[len(params) :])

    def _row(self, name, call, kind, ours, theirs, note=""):
        missing = [label for label, t in (("model", ours), ("reference", theirs)) if t is None]
        if missing:
            note = note or f"none in {' and '.join(missing)}"
            passed = len(missing) == 2
            return Row(
                name, call, kind, (), 0.0 if passed else math.inf, math.nan, 0, 0, passed, note
            )
        error, cosine, atol, rtol, passed, why = compare_tensors(ours, theirs, self.tolerances)
        shape = tuple(theirs[0].shape) if len(theirs) == 1 else (len(theirs),)
        return Row(name, call, kind, shape, error, cosine, atol, rtol, passed, why or note)

    def _output_rows(self, runs):
        ours, theirs = runs[0]["recorder"], runs[1]["recorder"]
        rows = []
        for name, call in _union(ours.order, theirs.order):
            a, b = ours.outputs.get((name, call)), theirs.outputs.get((name, call))
            note = ""
            if a is not None and b is not None:
                same_input = compare_tensors(
                    ours.inputs[name, call], theirs.inputs[name, call], self.tolerances
                )[4]
                note = "" if same_input else INPUTS_DIFFER
            elif a is None or b is None:
                note = f"call {call} only in {'reference' if a is None else 'model'}"
            row = self._row(name, call, "output", a, b, note)
            callers = ours.callers if (name, call) in ours.callers else theirs.callers
            rows.append(dataclasses.replace(row, caller=callers[name, call]))
        return rows

    def _grad_rows(self, runs):
        ours, theirs = runs[0]["recorder"], runs[1]["recorder"]
        rows = []
        for name, call in _union(ours.grad_order, theirs.grad_order):
            a, b = (
                None if grads is None else [g for g in grads if g is not None]
                for grads in (ours.grads.get((name, call)), theirs.grads.get((name, call)))
            )
            rows.append(self._row(name, call, "output grad", a, b))
        return rows

    def _state_rows(self, runs, kind):
        field = "buffers" if kind == "buffer" else "params"
        ours, theirs = runs[0][field], runs[1][field]
        return [
            self._row(name, 0, kind, _listed(ours.get(name)), _listed(theirs.get(name)))
            for name in _union(list(ours), list(theirs))
        ]

    def _input_grad_rows(self, runs):
        ours, theirs = runs[0]["inputs"], runs[1]["inputs"]
        return [
            self._row(f"input {i}", 0, "input grad", _listed(a), _listed(b))
            for i, (a, b) in enumerate(zip(ours, theirs))
        ]


def _union(first, second):
    """``first``, then what ``second`` has that ``first`` lacks, in order."""
    seen = set(first)
    return list(first) + [key for key in second if key not in seen]


def _listed(tensor):
    return None if tensor is None else [tensor]


def _short(names, limit=8):
    shown = [repr(n) for n in names[:limit]]
    more = f", … {len(names) - limit} more" if len(names) > limit else ""
    return f"[{', '.join(shown)}{more}]" if names else "none"


def _cuda_indices(model, inputs, kwargs):
    tensors = [*model.parameters(), *model.buffers(), *_tensors([inputs, kwargs])]
    return sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
