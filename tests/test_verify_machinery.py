"""The parity checks in ``byhand.verify`` bite: deliberately broken blocks fail, for the right reason.

Every entry here is synthetic and built in the test; none is added to the registry.
"""

import dataclasses
import functools
import json

import pytest
import torch

import byhand
import byhand.verify.__main__ as cli
from byhand.nn import functional as F
from byhand.verify import Case, ModulePair, OptimizerPair, Result, run

EXPECTED_NAMES = {
    "nn.Linear",
    "nn.ReLU",
    "nn.Sigmoid",
    "nn.Tanh",
    "nn.MSELoss",
    "nn.CrossEntropyLoss",
    "optim.SGD",
}


# --- helpers ----------------------------------------------------------------------------------
def _linear_inputs(g, dtype):
    return (torch.randn(4, 7, generator=g, dtype=dtype),)


def linear_pair(ours, **overrides):
    """A one-case entry comparing ``ours(in_features=7, out_features=5)`` with ``torch.nn.Linear``."""
    spec = dict(
        name="synthetic.Linear",
        reference="torch.nn.Linear",
        ours=ours,
        theirs=torch.nn.Linear,
        inputs=_linear_inputs,
        cases=(Case("7 -> 5", dict(in_features=7, out_features=5)),),
        page="none.md",
    )
    spec.update(overrides)
    return ModulePair(**spec)


def failures_of(results):
    return [f for r in results for f in r.failures]


def has_failure(results, prefix):
    return any(f.startswith(prefix) for f in failures_of(results))


# --- broken modules ---------------------------------------------------------------------------
class SignFlippedLinear(byhand.nn.Linear):
    def forward(self, x):
        return -super().forward(x)


class _DoubleGrad(torch.autograd.Function):
    """Identity forward, backward scaled by 2."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return 2 * grad


class WrongBackwardLinear(byhand.nn.Linear):
    """Exactly byhand's forward, but the gradient w.r.t. the input is doubled."""

    def forward(self, x):
        return super().forward(_DoubleGrad.apply(x))


class ExtraParameterLinear(byhand.nn.Linear):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = torch.nn.Parameter(torch.ones(()))  # unused, but it is in the state_dict


class RenamedLinear(torch.nn.Module):
    """Right maths, wrong parameter names (``w``/``b`` instead of ``weight``/``bias``)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        reference = torch.nn.Linear(in_features, out_features)
        self.w = torch.nn.Parameter(reference.weight.detach().clone())
        self.b = torch.nn.Parameter(reference.bias.detach().clone())

    def forward(self, x):
        return F.linear(x, self.w, self.b)


class ZeroInitLinear(byhand.nn.Linear):
    def reset_parameters(self):
        with torch.no_grad():
            self.weight.zero_()
            self.bias.zero_()


# --- ModulePair: forward, backward ------------------------------------------------------------
def test_correct_linear_passes_with_zero_error():
    results = run([linear_pair(byhand.nn.Linear)])
    assert len(results) == 2  # one case x (train, eval)
    for r in results:
        assert r.passed, r.failures
        assert set(r.max_abs_err) == {
            "init",
            "forward",
            "grad.input0",
            "grad.weight",
            "grad.bias",
        }
        assert all(isinstance(v, float) for v in r.max_abs_err.values())
        assert r.max_abs_err["init"] == 0.0
        assert r.max_abs_err["forward"] <= 1e-14


def test_sign_flip_fails_forward():
    results = run([linear_pair(SignFlippedLinear)])
    assert len(results) == 2
    for r in results:
        assert not r.passed
        assert any(f.startswith("forward:") for f in r.failures), r.failures
        # -y vs y: the error is twice the largest output, far above tolerance
        assert r.max_abs_err["forward"] > 0.1


def test_wrong_backward_fails_grad_input_only():
    results = run([linear_pair(WrongBackwardLinear)])
    for r in results:
        assert not r.passed
        assert r.max_abs_err["forward"] <= 1e-14  # forward is untouched
        assert not any(f.startswith("forward") for f in r.failures)
        assert any(f.startswith("grad.input0:") for f in r.failures), r.failures
        # the parameter gradients do not go through the doubled path, so they still agree
        assert not any(f.startswith(("grad.weight", "grad.bias")) for f in r.failures), (
            r.failures
        )
        assert r.max_abs_err["grad.weight"] <= 1e-12
        assert r.max_abs_err["grad.input0"] > 1e-3


# --- ModulePair: state_dict keys and init -----------------------------------------------------
@pytest.mark.parametrize(
    "module", [ExtraParameterLinear, RenamedLinear], ids=["extra", "renamed"]
)
def test_state_dict_key_mismatch_fails(module):
    results = run([linear_pair(module)])
    for r in results:
        assert not r.passed
        assert any(f.startswith("state_dict keys differ") for f in r.failures), r.failures


def test_renamed_buffer_fails_state_dict_keys():
    # A key mismatch ends the check at once: nothing else can be paired up by name.
    class Scaler(torch.nn.Module):
        def __init__(self, buffer_name):
            super().__init__()
            self.buffer_name = buffer_name
            self.register_buffer(buffer_name, torch.full((3,), 2.0))

        def forward(self, x):
            return x * getattr(self, self.buffer_name)

    pair = ModulePair(
        name="synthetic.Scaler",
        reference="Scaler('scale')",
        ours=lambda: Scaler("factor"),
        theirs=lambda: Scaler("scale"),
        inputs=lambda g, dtype: (torch.randn(3, generator=g, dtype=dtype),),
        modes=("train",),
        page="none.md",
    )
    (r,) = run([pair])
    assert not r.passed
    assert r.failures == ("state_dict keys differ: ours ['factor'] vs theirs ['scale']",)
    assert "forward" not in r.max_abs_err


def test_zero_init_fails_init_and_passes_without_init_check():
    pair = linear_pair(ZeroInitLinear)
    results = run([pair])
    for r in results:
        assert not r.passed
        assert [f for f in r.failures if not f.startswith("init:")] == []  # only init is wrong
        assert any(f.startswith("init:") for f in r.failures)
        assert r.max_abs_err["init"] > 0.01  # torch's weights are U(-1/sqrt(7), 1/sqrt(7))

    relaxed = run([dataclasses.replace(pair, check_init=False)])
    for r in relaxed:
        assert r.passed, r.failures
        assert "init" not in r.max_abs_err


# --- ModulePair: buffers ----------------------------------------------------------------------
def test_buffer_updated_differently_fails_in_train_only():
    # Same batch-norm maths, different running-average momentum: outputs agree in train mode
    # (batch statistics) but running_mean / running_var drift apart.
    pair = ModulePair(
        name="synthetic.BatchNorm1d",
        reference="torch.nn.BatchNorm1d",
        ours=functools.partial(torch.nn.BatchNorm1d, momentum=0.5),
        theirs=torch.nn.BatchNorm1d,
        inputs=lambda g, dtype: (3 + torch.randn(8, 4, generator=g, dtype=dtype),),
        cases=(Case("4 features", dict(num_features=4)),),
        page="none.md",
    )
    by_mode = {r.mode: r for r in run([pair])}
    train, evaluation = by_mode["train"], by_mode["eval"]
    assert not train.passed
    assert not any(f.startswith(("forward", "grad.")) for f in train.failures), train.failures
    assert any(f.startswith("buffer.running_mean") for f in train.failures), train.failures
    assert any(f.startswith("buffer.running_var") for f in train.failures), train.failures
    assert train.max_abs_err["buffer.running_mean"] > 0.5  # mean ~3: 0.5*3 vs 0.1*3
    assert evaluation.passed, evaluation.failures  # eval leaves the buffers alone


def test_integer_buffer_mismatch_is_reported():
    class Counter(torch.nn.Module):
        def __init__(self, increment):
            super().__init__()
            self.increment = increment
            self.register_buffer("count", torch.zeros((), dtype=torch.long))

        def forward(self, x):
            self.count += self.increment
            return 2 * x

    pair = ModulePair(
        name="synthetic.Counter",
        reference="Counter(1)",
        ours=lambda: Counter(2),
        theirs=lambda: Counter(1),
        inputs=lambda g, dtype: (torch.randn(3, generator=g, dtype=dtype),),
        modes=("train",),
        page="none.md",
    )
    (r,) = run([pair])
    assert r.failures == ("buffer.count: 2 != 1",)


# --- ModulePair: oracle entries and gradcheck -------------------------------------------------
class NaiveTanh(torch.nn.Module):
    """An independent oracle: the textbook formula with torch.exp (fine for moderate x)."""

    def forward(self, x):
        return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))


class _TanhWrongBackward(torch.autograd.Function):
    """byhand's tanh forward; backward uses 1 - t instead of 1 - t^2."""

    @staticmethod
    def forward(ctx, x):
        t = F.tanh(x)
        ctx.save_for_backward(t)
        return t

    @staticmethod
    def backward(ctx, grad):
        (t,) = ctx.saved_tensors
        return grad * (1 - t)


class TanhWrongBackward(torch.nn.Module):
    def forward(self, x):
        return _TanhWrongBackward.apply(x)


def tanh_oracle(ours, theirs=NaiveTanh, **overrides):
    return ModulePair(
        name="oracle.Tanh",
        reference="(e^x - e^-x) / (e^x + e^-x)",
        ours=ours,
        theirs=theirs,
        inputs=lambda g, dtype: (2 * torch.randn(3, 5, generator=g, dtype=dtype),),
        kind="oracle",
        modes=("train",),
        page="none.md",
        **overrides,
    )


def test_oracle_runs_gradcheck_and_passes_for_correct_module():
    (r,) = run([tanh_oracle(byhand.nn.Tanh)])
    assert r.kind == "oracle"
    assert r.gradcheck is True
    assert r.passed, r.failures
    assert r.max_abs_err["forward"] <= 1e-14
    assert r.max_abs_err["grad.input0"] <= 1e-12


def test_gradcheck_skipped_in_float32_and_for_twins():
    (r32,) = run([tanh_oracle(byhand.nn.Tanh)], dtype=torch.float32)
    assert r32.gradcheck is None and r32.passed
    twin = run([linear_pair(byhand.nn.Linear)])
    assert all(r.gradcheck is None for r in twin)
    forced = run([linear_pair(byhand.nn.Linear, gradcheck=True, modes=("train",))])
    assert [r.gradcheck for r in forced] == [True]


def test_oracle_catches_wrong_custom_backward():
    (r,) = run([tanh_oracle(TanhWrongBackward)])
    assert not r.passed
    assert r.max_abs_err["forward"] <= 1e-14  # forward equals the oracle's
    assert not any(f.startswith("forward") for f in r.failures)
    assert any(f.startswith("grad.input0:") for f in r.failures), r.failures
    assert r.gradcheck is False
    assert any(f.startswith("gradcheck:") for f in r.failures), r.failures


def test_gradcheck_alone_catches_a_bug_shared_by_the_oracle():
    # If the oracle had the same wrong backward, forward and grad comparisons agree;
    # only finite differences notice.
    (r,) = run([tanh_oracle(TanhWrongBackward, theirs=TanhWrongBackward)])
    assert r.max_abs_err["grad.input0"] == 0.0
    assert r.gradcheck is False
    assert len(r.failures) == 1 and r.failures[0].startswith("gradcheck:"), r.failures


class DetachedLinear(byhand.nn.Linear):
    def forward(self, x):
        return super().forward(x).detach()


def test_detached_output_fails_instead_of_skipping_the_gradients():
    for r in run([linear_pair(DetachedLinear)]):
        assert r.max_abs_err["forward"] == 0.0
        assert not r.passed
        assert any(
            "requires_grad is False for ours, True for theirs" in f for f in r.failures
        ), r.failures


def test_kind_must_be_twin_or_oracle():
    with pytest.raises(ValueError, match="kind must be 'twin' or 'oracle'"):
        linear_pair(byhand.nn.Linear, kind="twins")


# --- OptimizerPair ----------------------------------------------------------------------------
class EmaMomentumSGD(byhand.optim.SGD):
    """First step like PyTorch (b = g), then the 'EMA' convention b = mu*b + (1 - mu)*g,
    which is PyTorch's rule with dampening = momentum, whatever dampening was asked for."""

    def step(self, closure=None):
        for group in self.param_groups:
            group["dampening"] = group["momentum"]
        return super().step(closure)


class ForgetfulSGD(byhand.optim.SGD):
    """Correct steps, but load_state_dict keeps nothing: the momentum restarts."""

    def load_state_dict(self, state_dict):
        pass


class RenamedStateSGD(byhand.optim.SGD):
    """Correct maths, but the state lives under 'momentum' instead of 'momentum_buffer'."""

    def step(self, closure=None):
        for state in self.state.values():
            state["momentum_buffer"] = state.pop("momentum")
        loss = super().step(closure)
        for state in self.state.values():
            state["momentum"] = state.pop("momentum_buffer")
        return loss


def _quadratic(generator, dtype):
    target = torch.randn(3, 2, generator=generator, dtype=dtype)
    start = [
        torch.randn(3, 2, generator=generator, dtype=dtype),
        torch.randn(2, generator=generator, dtype=dtype),
    ]

    def loss(params):
        w, b = params
        return ((torch.tanh(w + b) - target) ** 2).sum()

    return start, loss


def sgd_pair(ours, **kwargs):
    return OptimizerPair(
        name="synthetic.SGD",
        reference="torch.optim.SGD",
        ours=ours,
        theirs=torch.optim.SGD,
        problem=_quadratic,
        cases=(Case("momentum", kwargs or dict(lr=0.1, momentum=0.9)),),
        steps=6,
        page="none.md",
    )


def test_real_sgd_passes_optimizer_pair():
    (r,) = run([sgd_pair(byhand.optim.SGD)])
    assert isinstance(r, Result)
    assert r.passed, r.failures
    assert isinstance(r.max_abs_err["params"], float)
    assert r.max_abs_err["params"] <= 1e-14
    assert isinstance(r.max_abs_err["state.momentum_buffer"], float)
    assert r.gradcheck is None


def test_wrong_momentum_convention_fails():
    (r,) = run([sgd_pair(EmaMomentumSGD)])
    assert not r.passed
    assert any(f.startswith(("params:", "state.momentum_buffer:")) for f in r.failures), (
        r.failures
    )
    assert r.max_abs_err["params"] > 1e-3
    # The EMA rule with b_1 = g is PyTorch's rule with dampening = mu: that case passes,
    # which shows the failure above is about the convention, not noise.
    (same,) = run([sgd_pair(EmaMomentumSGD, lr=0.1, momentum=0.9, dampening=0.9)])
    assert same.passed, same.failures


def test_state_dict_that_does_not_load_fails():
    # The check swaps state_dicts half-way; an optimizer that drops the loaded momentum drifts.
    (r,) = run([sgd_pair(ForgetfulSGD)])
    assert not r.passed
    assert r.max_abs_err["params"] > 1e-4, r.max_abs_err
    (plain,) = run([sgd_pair(ForgetfulSGD, lr=0.1)])  # no momentum, no state: nothing to lose
    assert plain.passed, plain.failures


def test_wrong_state_key_fails():
    (r,) = run([sgd_pair(RenamedStateSGD)])
    assert not r.passed
    assert any(f.startswith("state[0] keys differ") for f in r.failures), r.failures


# --- the CLI ----------------------------------------------------------------------------------
def test_cli_json_only_linear(capsys):
    code = cli.main(["--json", "--only", "nn.Linear"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 6  # 3 cases x (train, eval)
    for row in rows:
        assert {"name", "reference", "kind", "device", "dtype", "max_abs_err", "passed"} <= set(
            row
        )
        assert row["name"] == "nn.Linear"
        assert row["reference"] == "torch.nn.Linear"
        assert row["kind"] == "twin"
        assert row["device"] == "cpu"
        assert row["dtype"] == "float64"
        assert isinstance(row["max_abs_err"], dict) and row["max_abs_err"]
        assert all(isinstance(v, float) for v in row["max_abs_err"].values())
        assert row["passed"] is True


def test_registry_lists_the_first_slice():
    # Every entry's checks run in tests/test_registry.py; here only that none is missing.
    assert {entry.name for entry in byhand.verify.REGISTRY} >= EXPECTED_NAMES


def test_cli_float32(capsys):
    assert cli.main(["--json", "--only", "nn.Sigmoid", "--dtype", "float32"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["dtype"] for row in rows] == ["float32", "float32"]


def test_cli_broken_entry_exits_1_and_prints_fail(monkeypatch, capsys):
    broken = linear_pair(SignFlippedLinear, name="broken.Linear")
    good = linear_pair(byhand.nn.Linear, name="good.Linear")
    monkeypatch.setattr(cli, "REGISTRY", (good, broken))
    code = cli.main([])
    out = capsys.readouterr().out
    assert code == 1
    fail_lines = [line for line in out.splitlines() if "FAIL" in line]
    assert len(fail_lines) == 2 and all(line.startswith("broken.Linear") for line in fail_lines)
    assert "forward: max abs error" in out
    assert "2 passed, 2 failed" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error path")
def test_cli_cuda_without_cuda_exits_2(capsys):
    assert cli.main(["--device", "cuda"]) == 2
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_cli_only_nothing_matches_exits_2(capsys):
    assert cli.main(["--only", "nothing-matches"]) == 2
    assert "nothing-matches" in capsys.readouterr().err


def test_cli_unknown_device_exits_2():
    assert cli.main(["--device", "meta"]) == 2
