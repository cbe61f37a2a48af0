"""byhand.optim beyond SGD: argument checks, sparse gradients, the two forms, Lookahead's and the
schedules' state_dicts, and the pitfalls of the optimizers chapter with the numbers they cost.

Parity with torch.optim step by step (both forms, state_dict swap half-way) is the registry's
check (tests/test_registry.py); PyTorch's own optim_db inputs run in tests/test_torch_tables.py.
"""

import math

import pytest
import torch

from byhand.optim import (
    LAMB,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    Lookahead,
    NAdam,
    RAdam,
    RMSprop,
)
from byhand.optim import lr_scheduler as sched

ALL = [Adam, AdamW, NAdam, RAdam, RMSprop, Adagrad, Adadelta, LAMB]
F64 = torch.float64


def _param(*values):
    return torch.nn.Parameter(torch.tensor(values, dtype=F64))


# --- bad input --------------------------------------------------------------------------------
BAD = [
    (Adam, dict(lr=-0.1), "lr >= 0, got -0.1"),
    (Adam, dict(betas=(1.0, 0.999)), "0 <= betas[0] < 1, got 1.0"),
    (Adam, dict(betas=(0.9, -0.1)), "0 <= betas[1] < 1, got -0.1"),
    (Adam, dict(eps=-1e-8), "eps >= 0.0, got -1e-08"),
    (Adam, dict(weight_decay=-1), "weight_decay >= 0.0, got -1"),
    (Adam, dict(betas=(0.9, torch.tensor(0.99))), "both floats or both Tensors"),
    (Adam, dict(lr=torch.tensor(0.1), foreach=True), "lr as a Tensor"),
    (Adam, dict(lr=torch.tensor([0.1, 0.2])), "1-element, got 2"),
    (AdamW, dict(betas=(0.9, 1.5)), "0 <= betas[1] < 1, got 1.5"),
    (NAdam, dict(momentum_decay=-0.2), "momentum_decay >= 0.0, got -0.2"),
    (RAdam, dict(eps=-1.0), "eps >= 0.0, got -1.0"),
    (RMSprop, dict(momentum=-1.0), "momentum >= 0.0, got -1.0"),
    (RMSprop, dict(alpha=-0.5), "alpha >= 0.0, got -0.5"),
    (Adagrad, dict(lr_decay=-0.5), "lr_decay >= 0.0, got -0.5"),
    (Adagrad, dict(initial_accumulator_value=-1), "initial_accumulator_value >= 0.0, got -1"),
    (Adadelta, dict(rho=1.1), "0 <= rho <= 1, got 1.1"),
    (LAMB, dict(betas=(0.9, 1.0)), "0 <= betas[1] < 1, got 1.0"),
    (LAMB, dict(weight_decay=-0.01), "weight_decay >= 0.0, got -0.01"),
    (SGD, dict(lr=0.1, momentum=0.0, nesterov=True), "momentum > 0 and dampening = 0"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"), BAD, ids=[f"{c.__name__}-{m}" for c, _, m in BAD]
)
def test_bad_arguments_raise_value_error_naming_argument_and_value(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls([_param(1.0)], **kwargs)
    assert message in str(error.value)
    assert cls.__name__ in str(error.value)


@pytest.mark.parametrize(
    "cls", [c for c in ALL if not c.sparse_grads], ids=lambda c: c.__name__
)  # SGD and Adagrad take sparse gradients: tests/test_optim_sparse.py
def test_sparse_gradient_is_a_clear_error(cls):
    p = _param(1.0, 2.0, 3.0)
    p.grad = torch.sparse_coo_tensor(
        [[1]], torch.tensor([1.0], dtype=F64), (3,), check_invariants=True
    )
    with pytest.raises(RuntimeError, match=f"byhand {cls.__name__} does not support sparse"):
        cls([p]).step()
    assert torch.equal(p.detach(), torch.tensor([1.0, 2.0, 3.0], dtype=F64))


@pytest.mark.parametrize(
    ("cls", "flag"),
    [
        (Adam, "capturable"),
        (AdamW, "fused"),
        (NAdam, "differentiable"),
        (RMSprop, "capturable"),
    ],
)
def test_unbuilt_pytorch_flags_say_so(cls, flag):
    with pytest.raises(NotImplementedError, match=f"does not implement {flag}=True"):
        cls([_param(1.0)], **{flag: True})


def test_lookahead_and_schedule_arguments():
    inner = Adam([_param(1.0)])
    with pytest.raises(ValueError, match="integer k >= 1, got 0"):
        Lookahead(inner, k=0)
    with pytest.raises(ValueError, match="0 <= alpha <= 1, got 1.5"):
        Lookahead(inner, alpha=1.5)
    with pytest.raises(TypeError, match="wraps a torch.optim.Optimizer"):
        Lookahead([_param(1.0)])
    with pytest.raises(ValueError, match="0 < start_factor <= 1, got 0"):
        sched.LinearLR(inner, start_factor=0)
    with pytest.raises(ValueError, match="0 < warmup_steps < total_steps, got warmup_steps=10"):
        sched.warmup_cosine(inner, warmup_steps=10, total_steps=10)
    with pytest.raises(ValueError, match="total_steps > 0, got 0"):
        sched.OneCycleLR(inner, max_lr=0.1, total_steps=0)
    linear = sched.LinearLR(inner)
    with pytest.raises(ValueError, match="1 milestones for 1 schedulers"):
        sched.SequentialLR(inner, [linear], milestones=[3])


# --- behaviour --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_loop_and_foreach_forms_agree_and_skip_params_without_grad(cls):
    torch.manual_seed(0)
    start = [torch.randn(4, 3, dtype=F64), torch.randn(3, dtype=F64), torch.randn(2, dtype=F64)]
    results = []
    for foreach in (False, True):
        params = [p.clone().requires_grad_(True) for p in start]
        opt = cls(params, lr=0.05, foreach=foreach)
        for _ in range(10):
            opt.zero_grad()
            (torch.tanh(params[1] @ params[0].T) ** 2).sum().backward()  # params[2]: no grad
            opt.step()
        assert torch.equal(params[2].detach(), start[2])
        results.append(params)
    for a, b in zip(*results):
        assert float((a - b).detach().abs().max()) < 1e-13
    assert float((results[0][0].detach() - start[0]).abs().max()) > 1e-3  # the step did move


def test_adagrad_state_exists_before_the_first_step_like_pytorch():
    p = _param(1.0, 2.0)
    ours, theirs = (
        Adagrad([p], initial_accumulator_value=0.25),
        torch.optim.Adagrad([p], initial_accumulator_value=0.25),
    )
    assert sorted(ours.state[p]) == sorted(theirs.state[p]) == ["step", "sum"]
    assert torch.equal(ours.state[p]["sum"], theirs.state[p]["sum"])


def test_step_counter_is_a_tensor_and_loads_into_torch():
    p = _param(1.0, -2.0)
    ours = Adam([p], lr=0.1, amsgrad=True)
    p.grad = torch.ones(2, dtype=F64)
    ours.step()
    assert isinstance(ours.state[p]["step"], torch.Tensor) and ours.state[p]["step"].item() == 1
    theirs = torch.optim.Adam([p], lr=0.1, amsgrad=True)
    theirs.load_state_dict(ours.state_dict())
    theirs.step()
    assert theirs.state[p]["step"].item() == 2


def _trained_lookahead(steps, resume_at=None):
    torch.manual_seed(1)
    x, y = torch.randn(32, 3, dtype=F64), torch.randn(32, 2, dtype=F64)
    w = torch.zeros(2, 3, dtype=F64, requires_grad=True)
    b = torch.zeros(2, dtype=F64, requires_grad=True)

    def build():
        inner = Adam([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.05)
        return Lookahead(inner, k=4, alpha=0.5)

    opt = build()
    for step in range(steps):
        if step == resume_at:
            saved = opt.state_dict()
            opt = build()
            opt.load_state_dict(saved)
        opt.zero_grad()
        ((x @ w.T + b - y) ** 2).mean().backward()
        opt.step()
    return opt, w.detach(), b.detach()


def test_lookahead_state_dict_round_trip_resumes_exactly():
    _, w_straight, b_straight = _trained_lookahead(14)
    opt, w_resumed, b_resumed = _trained_lookahead(14, resume_at=6)  # mid-cycle: k = 4
    assert torch.equal(w_straight, w_resumed) and torch.equal(b_straight, b_resumed)
    assert opt.lookahead_step == 14 and opt.param_groups is opt.optimizer.param_groups
    assert set(opt.state_dict()) == {"optimizer", "slow_params", "k", "alpha", "lookahead_step"}


def test_lookahead_shares_param_groups_with_schedules_and_returns_closure_loss():
    p = _param(3.0)
    opt = Lookahead(SGD([p], lr=0.1), k=2)
    schedule = sched.StepLR(opt, step_size=1, gamma=0.5)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    schedule.step()
    assert opt.optimizer.param_groups[0]["lr"] == 0.05


def test_warmup_cosine_endpoints():
    opt = SGD([_param(1.0)], lr=0.2)
    schedule = sched.warmup_cosine(opt, warmup_steps=10, total_steps=50, start_factor=0.1)
    lrs = [schedule.get_last_lr()[0]]
    for _ in range(50):
        opt.step()
        schedule.step()
        lrs.append(schedule.get_last_lr()[0])
    assert math.isclose(lrs[0], 0.02, rel_tol=1e-12)
    assert math.isclose(lrs[10], 0.2, rel_tol=1e-12) and max(lrs) == lrs[10]
    assert math.isclose(lrs[30], 0.1, rel_tol=1e-12)  # half-way down the cosine
    assert abs(lrs[50]) < 1e-15


def test_schedule_state_dict_round_trip():
    opt = SGD([_param(1.0)], lr=0.1, momentum=0.9)
    schedule = sched.OneCycleLR(opt, max_lr=1.0, total_steps=40)
    for _ in range(15):
        opt.step()
        schedule.step()
    saved, lr = schedule.state_dict(), opt.param_groups[0]["lr"]
    rest = [schedule.step() or schedule.get_last_lr()[0] for _ in range(10)]
    opt2 = SGD([_param(1.0)], lr=0.1, momentum=0.9)
    again = sched.OneCycleLR(opt2, max_lr=1.0, total_steps=40)
    again.load_state_dict(saved)
    opt2.param_groups[0]["lr"] = lr
    assert [again.step() or again.get_last_lr()[0] for _ in range(10)] == rest


# --- pitfalls, with the numbers they cost -------------------------------------------------------
def _two_scales(cls, steps=200, **kwargs):
    """Coordinates with gradient scales 0.01 and 100, both pulled towards 2."""
    w = torch.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    opt = cls([w], lr=0.01, **kwargs)
    scale = torch.tensor([0.01, 100.0], dtype=F64)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * scale * (w - 2) ** 2).sum().backward()
        opt.step()
    return w.detach()


def test_pitfall_adam_l2_is_not_adamw_decay():
    l2, decoupled = _two_scales(Adam, weight_decay=0.1), _two_scales(AdamW, weight_decay=0.1)
    # L2 inside Adam is divided by √v̂: it crushes the weak-gradient coordinate and barely
    # touches the strong one; AdamW shrinks both alike.
    assert round(l2[0].item(), 4) == 0.1828 and round(l2[1].item(), 4) == 1.9827
    assert round(decoupled[0].item(), 4) == round(decoupled[1].item(), 4) == 1.8844


def test_pitfall_bias_correction_off_triples_the_first_step():
    g = torch.tensor([0.5, -20.0, 1e-4], dtype=F64)
    p = _param(1.0, -3.0, 0.001)
    opt = Adam([p], lr=0.01)
    p.grad = g.clone()
    opt.step()
    corrected = (p.detach() - torch.tensor([1.0, -3.0, 0.001], dtype=F64)).abs()
    m, v = 0.1 * g, 0.001 * g * g  # the first moments without dividing by 1 - βᵗ
    uncorrected = (0.01 * m / (v.sqrt() + 1e-8)).abs()
    assert torch.allclose(corrected, torch.full((3,), 0.01, dtype=F64), rtol=1e-3)
    assert round((uncorrected[0] / corrected[0]).item(), 3) == round(0.1 / math.sqrt(0.001), 3)
    assert round(uncorrected[0].item() / 0.01, 2) == 3.16


class LookaheadZippedWithGroups(Lookahead):
    """The bug: one slow weight per *group*, ``zip(param_groups, slow_weights)``."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        self.lookahead_step += 1
        if self.lookahead_step % self.k == 0:
            slows = [
                self.state[p]["slow_param"] for g in self.param_groups for p in g["params"]
            ]
            for group, slow in zip(self.param_groups, slows):
                p = group["params"][0]
                slow.lerp_(p, self.alpha)
                p.copy_(slow)
        return loss


def test_pitfall_lookahead_zipped_with_param_groups_leaves_parameters_unsynced():
    def run(cls):
        torch.manual_seed(0)
        x, y = torch.randn(32, 3, dtype=F64), torch.randn(32, 2, dtype=F64)
        w = torch.zeros(2, 3, dtype=F64, requires_grad=True)
        b = torch.zeros(2, dtype=F64, requires_grad=True)
        opt = cls(SGD([w, b], lr=0.1, momentum=0.9), k=5, alpha=0.5)
        for _ in range(20):
            opt.zero_grad()
            ((x @ w.T + b - y) ** 2).mean().backward()
            opt.step()
        return w.detach(), b.detach(), opt.state[b]["slow_param"]

    w_ok, b_ok, slow_ok = run(Lookahead)
    w_bug, b_bug, slow_bug = run(LookaheadZippedWithGroups)
    assert torch.equal(slow_bug, torch.zeros(2, dtype=F64))  # b's slow weight never moved
    assert torch.equal(b_ok, slow_ok)  # after the 20th step (k = 5) fast = slow
    assert (b_bug - b_ok).abs().max().item() > 0.05


def test_pitfall_lamb_decay_on_the_gradient_instead_of_the_update():
    def run(decay_in_update):
        p = _param(3.0, 0.1, -1.0, 0.01)
        opt = LAMB([p], lr=0.1, weight_decay=0.5 if decay_in_update else 0.0)
        for _ in range(10):  # no loss at all: only the decay acts
            p.grad = torch.zeros(4, dtype=F64) if decay_in_update else 0.5 * p.detach()
            opt.step()
        return p.detach()

    right, wrong = run(True), run(False)
    # in the update: u = λp, trust ‖p‖/‖λp‖ = 1/λ, so every step is p ← (1 - η) p
    assert torch.allclose(right, torch.tensor([3.0, 0.1, -1.0, 0.01], dtype=F64) * 0.9**10)
    # on the gradient: Adam normalises λp to ≈ sign(p), every coordinate moves by the same amount
    # and the small ones overshoot through zero
    assert torch.equal(torch.sign(wrong), torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=F64))


def test_lookahead_add_param_group_reaches_the_inner_optimizer():
    w, b = _param(1.0, 2.0), _param(0.5)
    opt = Lookahead(Adam([w], lr=0.1), k=2)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert len(opt.optimizer.param_groups) == 2 and opt.param_groups[1]["lr"] == 0.01
    assert torch.equal(opt.state[b]["slow_param"], torch.tensor([0.5], dtype=F64))
    for _ in range(2):
        opt.zero_grad()
        (w.sum() + 3 * b.sum()).backward()
        opt.step()
    # two Adam steps of 0.01 each on b, then half-way back to the slow weight 0.5
    assert abs(b.item() - (0.5 - 0.5 * 0.02)) < 1e-9
