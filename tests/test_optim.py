"""byhand.optim.SGD: argument checks, closure, untouched parameters, momentum convention, state_dicts."""

import copy

import pytest
import torch

import byhand


def _param(*values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.1, nesterov=True, momentum=0.0), "nesterov"),
        (dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1), "nesterov"),
        (dict(lr=-1.0), "lr"),
        (dict(lr=0.1, momentum=-0.5), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-3), "weight_decay"),
    ],
    ids=["nesterov without momentum", "nesterov with dampening", "negative lr", "negative momentum", "negative decay"],
)
def test_invalid_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        byhand.optim.SGD([_param(1.0)], **kwargs)


def test_step_with_closure_returns_its_loss():
    p = _param(3.0)
    opt = byhand.optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert len(calls) == 1
    assert loss.item() == 9.0
    assert p.item() == pytest.approx(3.0 - 0.1 * 6.0, abs=1e-15)  # gradient 2p = 6
    assert opt.step() is None


def test_parameters_without_grad_are_left_unchanged():
    with_grad, without_grad = _param(1.0, 2.0), _param(5.0, -5.0)
    opt = byhand.optim.SGD([with_grad, without_grad], lr=0.5, momentum=0.9, weight_decay=0.1)
    with_grad.grad = torch.ones(2, dtype=torch.float64)
    assert without_grad.grad is None
    opt.step()
    assert torch.equal(without_grad.detach(), torch.tensor([5.0, -5.0], dtype=torch.float64))
    assert without_grad not in opt.state or "momentum_buffer" not in opt.state[without_grad]
    # the other one moved: g = 1 + 0.1 p, p <- p - 0.5 g
    expected = torch.tensor([1.0 - 0.5 * 1.1, 2.0 - 0.5 * 1.2], dtype=torch.float64)
    assert float((with_grad.detach() - expected).abs().max()) < 1e-15


def test_momentum_convention_two_steps_move_2_9():
    # PyTorch: b_1 = g, b_t = mu b_{t-1} + g. With g = 1, lr = 1, mu = 0.9: 1 + 1.9 = 2.9.
    # (The EMA convention b = mu b + (1 - mu) g would move 1 + 1.0 = 2.0, or 0.1 + 0.19 = 0.29.)
    p = _param(0.0)
    opt = byhand.optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.0)
    moves = []
    for _ in range(2):
        before = p.item()
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        moves.append(before - p.item())
    assert moves[0] == 1.0
    assert abs(moves[1] - 1.9) < 1e-15
    assert abs(-p.item() - 2.9) < 1e-15
    assert abs(opt.state[p]["momentum_buffer"].item() - 1.9) < 1e-15

    q = _param(0.0)
    ref = torch.optim.SGD([q], lr=1.0, momentum=0.9, dampening=0.0)
    for _ in range(2):
        q.grad = torch.ones(1, dtype=torch.float64)
        ref.step()
    assert p.item() == q.item()


def test_dampening_and_nesterov_match_torch_numbers():
    # dampening 0.5: b_1 = 1, b_2 = 0.9 + 0.5 = 1.4; nesterov on top of mu b: step = g + mu b
    for kwargs, expected_moves in (
        (dict(momentum=0.9, dampening=0.5), (1.0, 1.4)),
        (dict(momentum=0.9, nesterov=True), (1.0 + 0.9, 1.0 + 0.9 * 1.9)),
    ):
        p = _param(0.0)
        opt = byhand.optim.SGD([p], lr=1.0, **kwargs)
        for step, move in enumerate(expected_moves):
            before = p.item()
            p.grad = torch.ones(1, dtype=torch.float64)
            opt.step()
            assert abs((before - p.item()) - move) < 1e-15, (kwargs, step)


def _loss(w, b, x, y):
    return ((torch.tanh(x @ w.T + b) - y) ** 2).mean()


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)],
    ids=["momentum", "nesterov + weight_decay"],
)
def test_state_dict_loads_into_torch_and_both_take_the_same_step(kwargs):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64)
    y = torch.randn(8, 2, generator=g, dtype=torch.float64)
    w = torch.nn.Parameter(torch.randn(2, 3, generator=g, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))

    ours = byhand.optim.SGD([w, b], **kwargs)
    for _ in range(3):
        ours.zero_grad()
        _loss(w, b, x, y).backward()
        ours.step()
    # torch's load_state_dict keeps the very tensors it is given (no copy when dtype and device
    # already match), so copy as saving to disk would; otherwise both optimizers share one buffer.
    saved = copy.deepcopy(ours.state_dict())
    assert set(saved["state"]) == {0, 1}
    assert set(saved["state"][0]) == {"momentum_buffer"}

    w2 = torch.nn.Parameter(w.detach().clone())
    b2 = torch.nn.Parameter(b.detach().clone())
    theirs = torch.optim.SGD([w2, b2], **kwargs)
    theirs.load_state_dict(saved)
    assert torch.equal(theirs.state[w2]["momentum_buffer"], ours.state[w]["momentum_buffer"])
    # control: a torch optimizer that did not load the state, from the same parameters
    w3 = torch.nn.Parameter(w.detach().clone())
    b3 = torch.nn.Parameter(b.detach().clone())
    fresh = torch.optim.SGD([w3, b3], **kwargs)

    for opt, params in ((ours, (w, b)), (theirs, (w2, b2)), (fresh, (w3, b3))):
        opt.zero_grad()
        _loss(*params, x, y).backward()
        opt.step()
    assert float((w - w2).detach().abs().max()) < 1e-15
    assert float((b - b2).detach().abs().max()) < 1e-15
    # weight decay g + λp may round differently (fused multiply-add): ulps, not exact equality
    assert float((theirs.state[w2]["momentum_buffer"] - ours.state[w]["momentum_buffer"]).abs().max()) < 1e-15
    # without the loaded momentum the step is visibly different
    assert float((w - w3).detach().abs().max()) > 1e-4


def test_torch_state_dict_loads_into_byhand():
    p, q = _param(1.0, -2.0), _param(1.0, -2.0)
    theirs = torch.optim.SGD([q], lr=0.1, momentum=0.8)
    for _ in range(2):
        q.grad = q.detach() * 2
        theirs.step()
    ours = byhand.optim.SGD([p], lr=0.1, momentum=0.8)
    with torch.no_grad():
        p.copy_(q)
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for opt, param in ((ours, p), (theirs, q)):
        param.grad = param.detach() * 2
        opt.step()
    assert float((p - q).detach().abs().max()) < 1e-15
    assert torch.equal(ours.state[p]["momentum_buffer"], theirs.state[q]["momentum_buffer"])
