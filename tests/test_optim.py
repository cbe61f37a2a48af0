"""byhand.optim.SGD: argument checks, closure, untouched parameters, momentum convention.

Parity with torch.optim.SGD step by step, and state_dicts loading both ways, are the registry's
checks (tests/test_registry.py).
"""

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
    ids=[
        "nesterov without momentum",
        "nesterov with dampening",
        "negative lr",
        "negative momentum",
        "negative decay",
    ],
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
