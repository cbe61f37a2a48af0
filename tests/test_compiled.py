"""The NumPy track under ``torch.compile``: dynamo traces NumPy code into torch ops (or falls
back to NumPy where it cannot); either way the compiled result must be NumPy's.

Two defects of the registry's compiled run (benchmarks/results/compiled-cpu-*.json) are pinned
here on the bare NumPy functions, with dynamo's ``eager`` backend (tracing only, no codegen):
``np.lib.stride_tricks.as_strided`` stopped the trace with an AssertionError, and ``bool / int``
is float32 under dynamo's NumPy (float64 in NumPy), which cost 1e-8 in the temporal loss.
"""

import numpy as np
import pytest
import torch

from byhand import classic


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _compiled(fn):
    return torch.compile(fn, backend="eager")


def test_strided_conv_and_pool_compile_to_numpy_results():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    want, _ = classic.conv_forward_fast(x, w, b, 2, 1)
    got, _ = _compiled(classic.conv_forward_fast)(x, w, b, 2, 1)
    np.testing.assert_array_equal(np.asarray(got), want)
    # overlapping windows (3×3, stride 2): the strided path, not the tiling reshape
    want, _ = classic.max_pool_forward_fast(x, 3, 3, 2)
    got, _ = _compiled(classic.max_pool_forward_fast)(x, 3, 3, 2)
    np.testing.assert_array_equal(np.asarray(got), want)


def test_strided_view_is_a_read_only_view_of_the_same_memory():
    x = np.arange(12.0).reshape(3, 4)
    view = classic.strided_view(x, (2, 3, 2), (x.strides[0], 8, 8))
    assert np.shares_memory(view, x) and not view.flags.writeable
    np.testing.assert_array_equal(view[1, 2], x[1, 2:4])


def test_temporal_softmax_loss_gradient_compiled_is_float64_exact():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 6))
    y, mask = rng.integers(0, 6, size=(3, 4)), rng.random((3, 4)) > 0.3
    loss, dx = classic.temporal_softmax_loss(x, y, mask)
    c_loss, c_dx = _compiled(classic.temporal_softmax_loss)(x, y, mask)
    assert np.asarray(c_dx).dtype == np.float64
    np.testing.assert_allclose(np.asarray(c_dx), dx, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(float(c_loss), loss, rtol=1e-14)


def _breaks(module, *inputs):
    explained = torch._dynamo.explain(module)(*inputs)
    return explained.graph_break_count, [str(b.reason)[:120] for b in explained.break_reasons]


def test_blocks_that_read_values_to_check_them_do_not_break_the_graph():
    """Eager, these check their indices and targets (reading tensor values: a graph break);
    compiled, they leave it to the indexing's own bounds check, as PyTorch's blocks do."""
    import byhand

    x, target = torch.randn(4, 5), torch.tensor([0, 3, 1, 4])
    assert _breaks(byhand.nn.CrossEntropyLoss(), x, target) == (0, [])
    assert _breaks(byhand.nn.Embedding(6, 3), torch.tensor([[1, 5], [0, 2]])) == (0, [])
    # adaptive windows of 7 rows into 3 (lengths 3, 3, 3) and 5 columns into 2 (3, 3)
    assert _breaks(byhand.nn.AdaptiveMaxPool2d((3, 2)), torch.randn(1, 2, 7, 5)) == (0, [])
    with pytest.raises(IndexError, match="out of range"):  # eager still names the bad one
        byhand.nn.CrossEntropyLoss()(x, torch.tensor([0, 3, 1, 5]))
