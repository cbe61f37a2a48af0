"""ResNet-18 as a model: one code for byhand.nn and torch.nn, its size, and torch.compile.

The float64 parity (logits, input and parameter gradients, batch norm buffers, train and eval)
is the registry's entry ``models.resnet18`` (tests/test_registry.py). Compiling is slow on a
CPU: the two compile tests below (width 4, float64, ``aot_eager`` and ``inductor``) passed with
no graph break; with the three tests of this file they took 230 s (1 thread, 2026-12-01, the
2-core machine otherwise idle, load average about 1), so they run only with
``BYHAND_SLOW_TESTS=1``.
"""

import os

import pytest
import torch

from byhand.models import resnet18

SLOW = pytest.mark.skipif(
    os.environ.get("BYHAND_SLOW_TESTS") != "1", reason="torch.compile: set BYHAND_SLOW_TESTS=1"
)


def test_one_code_two_namespaces_same_keys_and_the_published_size():
    ours, theirs = resnet18(impl="byhand"), resnet18(impl="torch")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert type(ours.layer2[0].conv1).__module__ == "byhand.nn.conv"
    assert type(theirs.layer2[0].conv1).__module__ == "torch.nn.modules.conv"
    # kuangliu/pytorch-cifar's ResNet18 (the CIFAR variant this is) has 11,173,962 parameters.
    assert sum(p.numel() for p in ours.parameters()) == 11_173_962
    assert ours.layer2[0].downsample[0].stride == (2, 2) and ours.layer1[0].downsample is None
    assert ours(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="impl expects 'byhand' or 'torch', got 'jax'"):
        resnet18(impl="jax")


@SLOW
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_step_matches_eager_without_graph_breaks(backend):
    torch.manual_seed(0)
    eager = resnet18(impl="byhand", width=4).double()
    compiled_model = resnet18(impl="byhand", width=4).double()
    compiled_model.load_state_dict(eager.state_dict())
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    explained = torch._dynamo.explain(resnet18(impl="byhand", width=4))(x.float())
    assert explained.graph_break_count == 0, explained.break_reasons
    torch._dynamo.reset()
    compiled = torch.compile(compiled_model, backend=backend)
    for model in (eager, compiled):
        model(x).square().mean().backward()
    assert torch.allclose(compiled(x), eager(x), atol=1e-10)
    for (name, a), b in zip(eager.named_parameters(), compiled_model.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-10), name
    for (name, a), b in zip(eager.named_buffers(), compiled_model.buffers()):
        assert torch.allclose(a.double(), b.double(), atol=1e-10), name
