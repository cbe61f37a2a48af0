"""Sparse gradients (``Embedding(sparse=True)``): ``SGD`` and ``Adagrad`` take them as PyTorch's
do, with the same results; where PyTorch refuses (weight decay, Adam) so do we, same class."""

import pytest
import torch

import byhand
from byhand import optim


def _train(opt_class, nn, options, steps=3):
    """A sparse embedding and a dense linear layer in one group, a few steps: the weights."""
    torch.manual_seed(0)
    embedding = nn.Embedding(11, 3, sparse=True).double()
    linear = nn.Linear(3, 2).double()
    opt = opt_class([*embedding.parameters(), *linear.parameters()], lr=0.1, **options)
    for i in range(steps):
        index = torch.tensor([[1, 2, 4, 1], [4, 3, 9, 1]]) + i % 2  # repeated rows too
        opt.zero_grad()
        linear(embedding(index)).pow(2).sum().backward()
        opt.step()
    return embedding.weight.detach(), linear.weight.detach(), opt


CASES = [
    ("SGD", dict()),
    ("SGD", dict(momentum=0.9, dampening=0.1, maximize=True, foreach=False)),
    ("SGD", dict(momentum=0.9, nesterov=True, foreach=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr_decay=0.01, initial_accumulator_value=0.5, maximize=True)),
]


@pytest.mark.parametrize("name, options", CASES)
def test_sparse_gradients_give_pytorchs_result(name, options):
    ours = _train(getattr(optim, name), byhand.nn, options)
    theirs = _train(getattr(torch.optim, name), torch.nn, options)
    assert ours[2].param_groups[0]["params"][0].grad.is_sparse
    for a, b in zip(ours[:2], theirs[:2]):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)
    state_ours = ours[2].state_dict()["state"].get(0, {})
    state_theirs = theirs[2].state_dict()["state"].get(0, {})
    assert state_ours.keys() == state_theirs.keys()
    for key in state_ours:  # the momentum buffer of a sparse gradient is sparse, as PyTorch's
        assert state_ours[key].layout == state_theirs[key].layout, key


@pytest.mark.parametrize(
    "name, options",
    [("SGD", dict(weight_decay=0.1)), ("Adagrad", dict(weight_decay=0.1)), ("Adam", {})],
)
def test_refused_where_pytorch_refuses(name, options):
    with pytest.raises(RuntimeError):
        _train(getattr(torch.optim, name), torch.nn, options, steps=1)
    with pytest.raises(RuntimeError, match="sparse"):
        _train(getattr(optim, name), byhand.nn, options, steps=1)
