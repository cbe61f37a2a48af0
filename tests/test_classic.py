"""byhand.classic: every backward against a numerical gradient (float64), fast against naive,
the two batch-norm backwards, the models' losses, the Solver and its checkpoint, the pitfalls.

Forward parity with torch.nn.functional (and the explicit backwards through autograd) is the
registry's check: ``classic.*`` entries in src/byhand/verify/registry/classic.py.
"""

import os

import numpy as np
import pytest
import torch

from byhand import classic as C
from byhand.classic import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

LAYER_TOL = 1e-7
MODEL_TOL = 1e-6


def _rng(seed=0):
    return np.random.default_rng(seed)


def _check_layer(forward, backward, arrays, seed=0, tol=LAYER_TOL, h=1e-5):
    """Numerical vs analytic gradient of every array argument of ``forward(*arrays)``.

    The centred difference errs by O(h²) (truncation) plus ~1e-16·|out|/h (round-off); with
    many outputs and small gradient entries (spatial batch norm) h = 1e-4 is the better balance.
    ``forward`` returns (out, cache), ``backward(dout, cache)`` the gradients in order.
    Returns the worst relative error.
    """
    out, cache = forward(*arrays)
    dout = _rng(seed + 100).standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    worst = 0.0
    for i, (array, grad) in enumerate(zip(arrays, grads)):

        def f(value, i=i):
            args = list(arrays)
            args[i] = value
            return forward(*args)[0]

        numeric = eval_numerical_gradient_array(f, array, dout, h=h)
        error = rel_error(numeric, grad)
        assert error < tol, f"argument {i}: rel error {error:.2e}"
        worst = max(worst, error)
    return worst


# ---------------------------------------------------------------- gradient-check utilities


def test_numerical_gradient_of_a_known_function():
    x = _rng().standard_normal((3, 4))
    numeric = eval_numerical_gradient(lambda v: np.sum(v**3), x)
    assert rel_error(numeric, 3 * x**2) < 1e-7
    assert rel_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1)


# ---------------------------------------------------------------- layers


@pytest.mark.parametrize("shape", [(1, 5), (4, 3, 2), (7, 2, 3, 1)], ids=str)
def test_affine(shape):
    rng = _rng(1)
    x = rng.standard_normal(shape)
    D = int(np.prod(shape[1:]))
    w, b = rng.standard_normal((D, 5)), rng.standard_normal(5)
    _check_layer(C.affine_forward, C.affine_backward, [x, w, b])


def test_relu_away_from_the_kink():
    x = _rng(2).standard_normal((5, 7))
    x[np.abs(x) < 0.01] = 0.5  # a centred difference across 0 is not the derivative
    _check_layer(C.relu_forward, C.relu_backward, [x])


def test_affine_relu_sandwich():
    rng = _rng(3)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 6)), rng.standard_normal(6)
    _check_layer(C.affine_relu_forward, C.affine_relu_backward, [x, w, b])


@pytest.mark.parametrize("keep_prob", [0.25, 0.6, 1.0])
def test_dropout_backward_and_expectation(keep_prob):
    x = _rng(4).standard_normal((6, 9))
    _check_layer(
        lambda v: C.dropout_forward(v, keep_prob, rng=np.random.default_rng(7)),
        C.dropout_backward,
        [x],
    )
    big = np.ones((500, 400))
    out, _ = C.dropout_forward(big, keep_prob, rng=np.random.default_rng(0))
    assert abs(out.mean() - 1) < 0.02  # inverted dropout keeps the mean
    assert abs((out != 0).mean() - keep_prob) < 0.01  # keep_prob is the share KEPT
    assert C.dropout_forward(big, keep_prob, train=False)[0] is big


def test_dropout_keep_prob_is_not_torchs_p():
    """Pitfall: passing PyTorch's p=0.2 (drop 20%) as keep_prob drops 80% of the units."""
    ones = np.ones((400, 500))
    kept = (C.dropout_forward(ones, 0.2, rng=np.random.default_rng(0))[0] != 0).mean()
    torch.manual_seed(0)
    kept_torch = (torch.nn.functional.dropout(torch.ones(400, 500), p=0.2) != 0).double().mean()
    assert kept == pytest.approx(0.2, abs=0.01)
    assert float(kept_torch) == pytest.approx(0.8, abs=0.01)
    with pytest.raises(ValueError, match="0 < keep_prob <= 1, got 0"):
        C.dropout_forward(ones, 0.0)


def test_word_embedding():
    rng = _rng(5)
    x = np.array([[0, 3, 3], [2, 0, 1]])  # repeated words must accumulate
    W = rng.standard_normal((5, 4))
    out, cache = C.word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    numeric = eval_numerical_gradient_array(
        lambda v: C.word_embedding_forward(x, v)[0], W, dout
    )
    assert rel_error(numeric, C.word_embedding_backward(dout, cache)) < LAYER_TOL


def test_temporal_affine():
    rng = _rng(6)
    x, w, b = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((4, 5)),
        rng.standard_normal(5),
    )
    _check_layer(C.temporal_affine_forward, C.temporal_affine_backward, [x, w, b])


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("loss", [C.softmax_loss, C.svm_loss], ids=["softmax", "svm"])
@pytest.mark.parametrize("N", [1, 9])
def test_loss_gradients(loss, N):
    rng = _rng(N)
    x, y = 0.5 * rng.standard_normal((N, 5)), rng.integers(0, 5, N)
    numeric = eval_numerical_gradient(lambda v: loss(v, y)[0], x)
    assert rel_error(numeric, loss(x, y)[1]) < LAYER_TOL


def test_softmax_loss_at_chance_and_with_huge_scores():
    x = 1e-3 * _rng().standard_normal((50, 10))
    assert C.softmax_loss(x, np.zeros(50, dtype=int))[0] == pytest.approx(np.log(10), abs=1e-2)
    loss, dx = C.softmax_loss(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0) and np.isfinite(dx).all()


def test_svm_loss_is_multi_margin_loss_times_C():
    x, y = _rng().standard_normal((6, 5)), _rng(1).integers(0, 5, 6)
    theirs = torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(y))
    assert C.svm_loss(x, y)[0] == pytest.approx(5 * float(theirs), rel=1e-12)


def test_temporal_softmax_loss():
    rng = _rng(8)
    N, T, V = 3, 4, 6
    x, y = rng.standard_normal((N, T, V)), rng.integers(0, V, (N, T))
    mask = rng.random((N, T)) > 0.4
    numeric = eval_numerical_gradient(lambda v: C.temporal_softmax_loss(v, y, mask)[0], x)
    loss, dx = C.temporal_softmax_loss(x, y, mask)
    assert rel_error(numeric, dx) < LAYER_TOL
    assert np.all(dx[~mask] == 0)  # masked positions get no gradient


# ---------------------------------------------------------------- normalization


def _bn(train=True, **extra):
    return {"mode": "train" if train else "test", **extra}


@pytest.mark.parametrize("N, D", [(3, 4), (8, 5)])
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backwards(N, D, backward):
    rng = _rng(N)
    x = 3 * rng.standard_normal((N, D)) + 2
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    _check_layer(
        lambda *a: C.batchnorm_forward(*a, _bn()), getattr(C, backward), [x, gamma, beta]
    )


@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backward_in_test_mode(backward):
    rng = _rng(30)
    x, gamma, beta = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    bn = _bn(False, running_mean=rng.standard_normal(3), running_var=rng.random(3) + 0.5)
    _check_layer(lambda *a: C.batchnorm_forward(*a, bn), getattr(C, backward), [x, gamma, beta])


def test_the_two_batchnorm_backwards_agree():
    rng = _rng(9)
    x, gamma, beta = (
        rng.standard_normal((11, 6)),
        rng.standard_normal(6),
        rng.standard_normal(6),
    )
    out, cache = C.batchnorm_forward(x, gamma, beta, _bn())
    dout = rng.standard_normal(out.shape)
    for a, b in zip(C.batchnorm_backward(dout, cache), C.batchnorm_backward_alt(dout, cache)):
        assert np.abs(a - b).max() < 1e-12


def test_batchnorm_running_stats_and_test_mode():
    rng = _rng(10)
    bn = _bn(momentum=0.9)
    gamma, beta = np.ones(4), np.zeros(4)
    batches = [2 + 3 * rng.standard_normal((8, 4)) for _ in range(3)]
    torch_bn = torch.nn.BatchNorm1d(4, momentum=0.1, dtype=torch.float64)
    for batch in batches:
        C.batchnorm_forward(batch, gamma, beta, bn)
        torch_bn(torch.tensor(batch))
    # CS231n momentum 0.9 (keep 90% old) is PyTorch's momentum 0.1 (take 10% new)
    assert np.abs(bn["running_mean"] - torch_bn.running_mean.numpy()).max() < 1e-14
    assert np.abs(bn["running_var"] - torch_bn.running_var.numpy()).max() < 1e-14
    x = rng.standard_normal((5, 4))
    out, _ = C.batchnorm_forward(x, gamma, beta, {**bn, "mode": "test"})
    expected = (x - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5)
    assert np.abs(out - expected).max() < 1e-14
    with pytest.raises(ValueError, match="mode 'train' or 'test', got 'eval'"):
        C.batchnorm_forward(x, gamma, beta, {"mode": "eval"})


def test_pitfall_biased_running_var_drifts_in_eval():
    """Pitfall: the running variance from the biased batch variance is off by (N-1)/N."""
    rng = _rng(11)
    bn = _bn(momentum=0.0)  # keep nothing old: running_var = the last batch's variance
    batch = rng.standard_normal((4, 3))
    C.batchnorm_forward(batch, np.ones(3), np.zeros(3), bn)
    biased = batch.var(axis=0)
    ratio = biased / bn["running_var"]
    assert np.allclose(ratio, 3 / 4)  # a quarter of the variance lost with N = 4


def test_pitfall_momentum_conventions_are_opposite():
    """Pitfall: passing PyTorch's momentum=0.1 to CS231n-style code keeps only 10% old."""
    ones = np.ones((2, 1))
    bn = _bn(momentum=0.1)
    C.batchnorm_forward(np.array([[9.0], [11.0]]), ones[0], 0 * ones[0], bn)
    assert bn["running_mean"][0] == pytest.approx(0.1 * 0 + 0.9 * 10)  # 9.0, not 1.0


@pytest.mark.parametrize("N, D", [(1, 5), (4, 7)])
def test_layernorm(N, D):
    rng = _rng(12)
    x, gamma, beta = rng.standard_normal((N, D)), rng.standard_normal(D), rng.standard_normal(D)
    _check_layer(C.layernorm_forward, C.layernorm_backward, [x, gamma, beta])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 3)], ids=str)
def test_spatial_batchnorm(shape):
    rng = _rng(13)
    x = 2 * rng.standard_normal(shape) + 1
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    _check_layer(
        lambda *a: C.spatial_batchnorm_forward(*a, _bn()),
        C.spatial_batchnorm_backward,
        [x, gamma, beta],
        h=1e-4,  # at 1e-5 round-off gives 2e-7 on the smallest dx entry (|dx| ~ 1e-4)
    )


@pytest.mark.parametrize("shape, G", [((2, 6, 3, 4), 2), ((1, 4, 3, 3), 4), ((3, 3, 2, 5), 1)])
def test_spatial_groupnorm(shape, G):
    rng = _rng(14)
    x = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    _check_layer(
        lambda *a: C.spatial_groupnorm_forward(*a, G),
        C.spatial_groupnorm_backward,
        [x, gamma, beta],
    )
    with pytest.raises(ValueError, match="C=6 is not divisible by G=4"):
        C.spatial_groupnorm_forward(np.ones((1, 6, 2, 2)), np.ones(6), np.ones(6), 4)


# ---------------------------------------------------------------- convolution and pooling

CONV_CASES = [
    # (N, C, H, W), (F, HH, WW), stride, pad
    ((1, 1, 5, 5), (2, 3, 3), 1, 0),
    ((2, 3, 7, 6), (3, 3, 3), 2, 1),
    ((3, 2, 9, 8), (2, 4, 3), 3, 2),
    ((2, 2, 6, 7), (3, 2, 5), 1, 1),
]


# The naive loops are slow under a numerical gradient: they are gradient-checked on the first
# two cases (batch 1; stride 2, pad 1, odd width), and agree with the fast version on all four.
CONV_GRADIENT_CASES = [
    *(pytest.param(*case, "naive", id=f"naive-{i}") for i, case in enumerate(CONV_CASES[:2])),
    *(pytest.param(*case, "fast", id=f"fast-{i}") for i, case in enumerate(CONV_CASES)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad, variant", CONV_GRADIENT_CASES)
def test_conv_backward(x_shape, w_shape, stride, pad, variant):
    rng = _rng(15)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((w_shape[0], x_shape[1], *w_shape[1:]))
    b = rng.standard_normal(w_shape[0])
    forward = getattr(C, f"conv_forward_{variant}")
    _check_layer(
        lambda *a: forward(*a, stride=stride, pad=pad),
        getattr(C, f"conv_backward_{variant}"),
        [x, w, b],
    )


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_conv_fast_matches_naive(x_shape, w_shape, stride, pad):
    rng = _rng(16)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((w_shape[0], x_shape[1], *w_shape[1:]))
    b = rng.standard_normal(w_shape[0])
    out_naive, cache_naive = C.conv_forward_naive(x, w, b, stride, pad)
    out_fast, cache_fast = C.conv_forward_fast(x, w, b, stride, pad)
    assert np.abs(out_naive - out_fast).max() < 1e-10
    dout = rng.standard_normal(out_naive.shape)
    for a, b_ in zip(
        C.conv_backward_naive(dout, cache_naive), C.conv_backward_fast(dout, cache_fast)
    ):
        assert np.abs(a - b_).max() < 1e-10


def test_conv_errors():
    x, b = np.ones((1, 3, 4, 4)), np.ones(2)
    with pytest.raises(ValueError, match="x has C=3 channels but w expects 2"):
        C.conv_forward_fast(x, np.ones((2, 2, 3, 3)), b)
    with pytest.raises(ValueError, match="kernel 5 is larger than the padded input 4"):
        C.conv_forward_naive(x, np.ones((2, 3, 5, 5)), b)
    with pytest.raises(ValueError, match="stride >= 1"):
        C.conv_forward_fast(x, np.ones((2, 3, 3, 3)), b, stride=0)


POOL_CASES = [
    # (N, C, H, W), pool_height, pool_width, stride
    ((1, 1, 4, 4), 2, 2, 2),  # windows tile: the reshape path
    ((2, 3, 6, 9), 3, 3, 3),  # tiles again
    ((2, 2, 7, 6), 2, 2, 2),  # odd height: floor, strided path
    ((2, 3, 7, 5), 3, 2, 1),  # overlapping windows
    ((1, 2, 8, 9), 2, 3, 3),
]


@pytest.mark.parametrize("shape, ph, pw, stride", POOL_CASES)
@pytest.mark.parametrize("variant", ["naive", "fast"])
def test_max_pool_backward(shape, ph, pw, stride, variant):
    x = _rng(17).permutation(np.prod(shape)).reshape(shape) / 7.0  # distinct values: no ties
    forward = getattr(C, f"max_pool_forward_{variant}")
    _check_layer(
        lambda v: forward(v, ph, pw, stride), getattr(C, f"max_pool_backward_{variant}"), [x]
    )


@pytest.mark.parametrize("shape, ph, pw, stride", POOL_CASES)
def test_max_pool_fast_matches_naive(shape, ph, pw, stride):
    rng = _rng(18)
    x = rng.standard_normal(shape)
    out_naive, cache_naive = C.max_pool_forward_naive(x, ph, pw, stride)
    out_fast, cache_fast = C.max_pool_forward_fast(x, ph, pw, stride)
    assert np.abs(out_naive - out_fast).max() < 1e-10
    dout = rng.standard_normal(out_naive.shape)
    dx_naive = C.max_pool_backward_naive(dout, cache_naive)
    assert np.abs(dx_naive - C.max_pool_backward_fast(dout, cache_fast)).max() < 1e-10


def test_pitfall_max_pool_ties_send_the_gradient_to_one_element():
    """Pitfall: a ``window == max`` mask sends the gradient to all 4 tied elements: 4× the sum."""
    x = np.zeros((1, 1, 2, 2))
    dout = np.ones((1, 1, 1, 1))
    _, cache = C.max_pool_forward_fast(x, 2, 2, 2)
    ours = C.max_pool_backward_fast(dout, cache)
    xt = torch.zeros(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    masked = (x == x.max()) * dout
    assert ours.sum() == xt.grad.sum().item() == 1.0
    assert np.array_equal(ours, xt.grad.numpy())
    assert masked.sum() == 4.0


def test_pool_error():
    with pytest.raises(
        ValueError, match="3x3 window with stride 1 does not fit an input of height 2"
    ):
        C.max_pool_forward_fast(np.ones((1, 1, 2, 5)), 3, 3, 1)


# ---------------------------------------------------------------- recurrent


def _rnn_weights(rng, D, H, gates=1):
    return (
        rng.standard_normal((D, gates * H)) * 0.4,
        rng.standard_normal((H, gates * H)) * 0.4,
        rng.standard_normal(gates * H) * 0.4,
    )


def test_rnn_step():
    rng = _rng(19)
    x, h = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    _check_layer(C.rnn_step_forward, C.rnn_step_backward, [x, h, *_rnn_weights(rng, 4, 5)])


@pytest.mark.parametrize("N, T", [(1, 1), (2, 4)])
def test_rnn_sequence(N, T):
    rng = _rng(20)
    x, h0 = rng.standard_normal((N, T, 3)), rng.standard_normal((N, 4))
    _check_layer(C.rnn_forward, C.rnn_backward, [x, h0, *_rnn_weights(rng, 3, 4)])


def test_lstm_step():
    rng = _rng(21)
    N, D, H = 3, 4, 5
    x, h, c = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    weights = _rnn_weights(rng, D, H, 4)
    next_h, next_c, cache = C.lstm_step_forward(x, h, c, *weights)
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    grads = C.lstm_step_backward(dh, dc, cache)
    arrays = [x, h, c, *weights]
    for i, array in enumerate(arrays):

        def f(value, i=i):
            args = list(arrays)
            args[i] = value
            out_h, out_c, _ = C.lstm_step_forward(*args)
            return np.concatenate([out_h, out_c], axis=1)

        numeric = eval_numerical_gradient_array(f, array, np.concatenate([dh, dc], axis=1))
        assert rel_error(numeric, grads[i]) < LAYER_TOL, i


@pytest.mark.parametrize("N, T", [(1, 1), (2, 3)])
def test_lstm_sequence(N, T):
    rng = _rng(22)
    x, h0 = rng.standard_normal((N, T, 3)), rng.standard_normal((N, 4))
    _check_layer(C.lstm_forward, C.lstm_backward, [x, h0, *_rnn_weights(rng, 3, 4, 4)])


def test_pitfall_lstm_gate_order():
    """Pitfall: copying i,f,o,g weights into PyTorch's i,f,g,o layout without reordering."""
    rng = _rng(23)
    N, D, H = 2, 3, 4
    x, h, c = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    Wx, Wh, b = _rnn_weights(rng, D, H, 4)
    ours_h, _, _ = C.lstm_step_forward(x, h, c, Wx, Wh, b)
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    order = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]  # i, f, o, g → i, f, g, o

    def copy_into_cell(reorder):
        with torch.no_grad():
            cell.weight_ih.copy_(torch.tensor(Wx[:, reorder].T))
            cell.weight_hh.copy_(torch.tensor(Wh[:, reorder].T))
            cell.bias_ih.copy_(torch.tensor(b[reorder]))
            cell.bias_hh.zero_()
            return cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))[0].numpy()

    assert np.abs(copy_into_cell(order) - ours_h).max() < 1e-14
    assert np.abs(copy_into_cell(np.arange(4 * H)) - ours_h).max() > 0.05


# ---------------------------------------------------------------- models


def _check_model(model, X, y, seed=0):
    """Every parameter's gradient against a numerical one, at a generic point: biases and
    norm shifts drawn away from 0, so that no ReLU input sits exactly on its kink."""
    rng = _rng(seed)
    for name, param in model.params.items():
        if name.startswith(("b", "beta")):
            param += 0.1 * rng.standard_normal(param.shape)
    loss, grads = model.loss(X, y)
    worst = 0.0
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        error = rel_error(numeric, grads[name])
        assert error < MODEL_TOL, f"{name}: rel error {error:.2e}"
        worst = max(worst, error)
    return loss, worst


@pytest.mark.parametrize(
    "normalization, keep_prob, reg",
    [(None, 1.0, 0.0), (None, 0.7, 3.14), ("batchnorm", 1.0, 0.5), ("layernorm", 0.8, 0.0)],
)
def test_fully_connected_net_gradients(normalization, keep_prob, reg):
    rng = _rng(24)
    N, D, classes = 3, 6, 4
    X, y = rng.standard_normal((N, D)), rng.integers(0, classes, N)
    model = C.FullyConnectedNet(
        [5, 4],
        input_dim=D,
        num_classes=classes,
        keep_prob=keep_prob,
        normalization=normalization,
        reg=reg,
        weight_scale=5e-1,
        seed=0,
    )
    if keep_prob < 1:  # the same dropout mask for every evaluation of the loss
        loss = model.loss

        def fixed_mask_loss(X, y=None):
            model.rng = np.random.default_rng(123)
            return loss(X, y)

        model.loss = fixed_mask_loss
    _check_model(model, X, y)


def test_fully_connected_net_initial_loss():
    rng = _rng(25)
    model = C.FullyConnectedNet(
        [20, 30], input_dim=15, num_classes=10, weight_scale=1e-3, seed=0
    )
    loss, _ = model.loss(rng.standard_normal((40, 15)), rng.integers(0, 10, 40))
    assert loss == pytest.approx(np.log(10), abs=1e-3)
    with pytest.raises(ValueError, match="got 'groupnorm'"):
        C.FullyConnectedNet([3], normalization="groupnorm")


def test_three_layer_convnet_gradients():
    rng = _rng(26)
    model = C.ThreeLayerConvNet(
        input_dim=(2, 6, 7),
        num_filters=3,
        filter_size=3,
        hidden_dim=5,
        num_classes=4,
        weight_scale=0.5,
        reg=0.1,
        seed=0,
    )
    X, y = rng.standard_normal((2, 2, 6, 7)), rng.integers(0, 4, 2)
    _check_model(model, X, y)
    assert model.loss(X).shape == (2, 4)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_rnn_gradients_and_sampling(cell_type):
    rng = _rng(27)
    words = ["<NULL>", "<START>", "<END>", "cat", "dog", "red"]
    word_to_idx = {w: i for i, w in enumerate(words)}
    model = C.CaptioningRNN(
        word_to_idx, input_dim=4, wordvec_dim=3, hidden_dim=5, cell_type=cell_type, seed=0
    )
    features = rng.standard_normal((2, 4))
    captions = np.array([[1, 3, 5, 2, 0], [1, 4, 2, 0, 0]])
    # word vectors start at N(0, 0.01²): Wx's gradient would be ~1e-6, below what a centred
    # difference resolves (~1e-10 absolute); check at word vectors of unit scale
    model.params["W_embed"] *= 100
    _check_model(model, features, captions)
    sampled = model.sample(features, max_length=6)
    assert sampled.shape == (2, 6)
    for row in sampled:  # after '<END>' only '<NULL>'
        ends = np.flatnonzero(row == 2)
        if ends.size:
            assert np.all(row[ends[0] + 1 :] == 0)
    with pytest.raises(ValueError, match=r"lacks the special tokens \['<END>'\]"):
        C.CaptioningRNN({"<NULL>": 0, "<START>": 1})


# ---------------------------------------------------------------- update rules and Solver


def test_update_rules_against_torch_optim():
    """sgd_momentum, rmsprop and adam step like torch.optim's (with the matching conventions)."""
    w0 = _rng(28).standard_normal(5)
    grads = [_rng(29 + k).standard_normal(5) for k in range(6)]
    pairs = [
        (C.sgd, {"learning_rate": 0.1}, torch.optim.SGD, dict(lr=0.1)),
        (C.sgd_momentum, {"learning_rate": 0.1}, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
        (
            C.rmsprop,
            {"learning_rate": 0.01},
            torch.optim.RMSprop,
            dict(lr=0.01, alpha=0.99, eps=1e-8),
        ),
        (C.adam, {"learning_rate": 0.01}, torch.optim.Adam, dict(lr=0.01)),
    ]
    for rule, config, optimizer_class, kwargs in pairs:
        w, cfg = w0.copy(), dict(config)
        p = torch.tensor(w0, requires_grad=True)
        opt = optimizer_class([p], **kwargs)
        for g in grads:
            w, cfg = rule(w, g, cfg)
            p.grad = torch.tensor(g)
            opt.step()
        # RMSprop/Adam put ε outside the square root too; momentum SGD is the same recursion
        assert np.abs(w - p.detach().numpy()).max() < 1e-12, rule.__name__


def _digits(n_train=300):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return {
        "X_train": X[:n_train],
        "y_train": y[:n_train],
        "X_val": X[n_train : n_train + 200],
        "y_val": y[n_train : n_train + 200],
    }


def test_solver_learns_decays_and_checkpoints(tmp_path):
    data = _digits()
    model = C.FullyConnectedNet([32], input_dim=64, weight_scale=0.1, seed=0)
    path = tmp_path / "best.npz"
    solver = C.Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        lr_decay=0.9,
        batch_size=50,
        num_epochs=15,
        checkpoint_path=str(path),
        seed=0,
    )
    solver.train()
    assert solver.best_val_acc > 0.75  # measured 0.815; chance is 0.1
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(1e-2 * 0.9**15)
    with np.load(path) as saved:
        assert set(saved.files) == set(model.params)
        for name in saved.files:
            assert np.array_equal(saved[name], solver.best_params[name])
    assert os.listdir(tmp_path) == ["best.npz"]  # no temporary file left behind
    with pytest.raises(ValueError, match="update_rule must be one of .* got 'adagrad'"):
        C.Solver(model, data, update_rule="adagrad")


def test_atomic_checkpoint_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "best.npz"
    C.save_atomic(str(path), {"W": np.arange(3.0)})

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        C.save_atomic(str(path), {"W": np.zeros(3)})
    monkeypatch.undo()
    with np.load(path) as saved:
        assert np.array_equal(saved["W"], np.arange(3.0))
    assert os.listdir(tmp_path) == ["best.npz"]


def test_overfits_fifty_examples():
    """The sanity check of the experiments page: 50 examples, training accuracy 1.0."""
    data = _digits(50)
    model = C.FullyConnectedNet([64, 64], input_dim=64, weight_scale=0.1, seed=0)
    solver = C.Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=25,
        num_epochs=25,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


def test_classic_imports_no_torch():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    # three_levels.py is the three-levels page's PyTorch side: importing byhand.classic must
    # not load it, nor torch (byhand/__init__ imports byhand.nn, so import the files directly)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('classic', {C.__file__!r},"
        " submodule_search_locations=[])\n"
        "sys.modules['byhand'] = type(sys)('byhand')\n"
        "sys.modules['byhand'].__path__ = []\n"
        f"sys.modules['byhand'].__path__.append({str(Path(C.__file__).parents[1])!r})\n"
        "import byhand.classic\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
    for path in Path(C.__file__).parent.glob("*.py"):
        if path.name == "three_levels.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                )
                assert not any(n and n.split(".")[0] == "torch" for n in names), path.name
