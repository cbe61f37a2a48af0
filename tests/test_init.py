"""``byhand.nn.init`` against ``torch.nn.init``: the same signatures, and the same draws from the
same generator (bitwise), so a byhand layer can be initialised exactly as PyTorch's."""

import inspect
import math

import pytest
import torch

from byhand.nn import init

OURS = ("calculate_gain", "kaiming_uniform_", "kaiming_normal_", "uniform_", "normal_",
        "xavier_uniform_", "xavier_normal_", "constant_")  # fmt: skip


def _parameters(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", OURS)
def test_written_by_hand_with_pytorchs_signature(name):
    ours, theirs = getattr(init, name), getattr(torch.nn.init, name)
    assert ours.__module__ == "byhand.nn.init"
    assert _parameters(ours) == _parameters(theirs)


KAIMING = [
    dict(),
    dict(a=math.sqrt(5)),
    dict(mode="fan_out", nonlinearity="relu"),
    dict(a=0.2, mode="fan_in", nonlinearity="leaky_relu"),
    dict(mode="fan_out", nonlinearity="tanh"),
    dict(nonlinearity="selu"),
    dict(nonlinearity="conv_transpose2d"),
]


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("options", KAIMING, ids=str)
def test_kaiming_same_draws_as_pytorch(name, options):
    shape = (6, 4, 3, 3)
    ours = getattr(init, name)(
        torch.empty(shape), **options, generator=torch.Generator().manual_seed(3)
    )
    theirs = getattr(torch.nn.init, name)(
        torch.empty(shape), **options, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(ours, theirs)
    torch.manual_seed(5)  # the global generator when none is given
    ours = getattr(init, name)(torch.empty(7, 5), **options)
    torch.manual_seed(5)
    assert torch.equal(ours, getattr(torch.nn.init, name)(torch.empty(7, 5), **options))


@pytest.mark.parametrize("name, args", [("xavier_uniform_", (0.7,)), ("xavier_normal_", ()),
                                        ("uniform_", (-0.3, 0.4)), ("normal_", (1.0, 0.2))])  # fmt: skip
def test_other_fills_same_draws_as_pytorch(name, args):
    ours = getattr(init, name)(
        torch.empty(5, 3, 2), *args, generator=torch.Generator().manual_seed(1)
    )
    theirs = getattr(torch.nn.init, name)(
        torch.empty(5, 3, 2), *args, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(ours, theirs)


def test_gain_and_bad_arguments_as_pytorch():
    for nonlinearity in ("linear", "conv3d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"):
        assert init.calculate_gain(nonlinearity) == torch.nn.init.calculate_gain(nonlinearity)
    assert init.calculate_gain("leaky_relu", 0.3) == torch.nn.init.calculate_gain(
        "leaky_relu", 0.3
    )
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(torch.empty(3, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.kaiming_normal_(torch.empty(3, 2), nonlinearity="gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(torch.empty(0, 3))
