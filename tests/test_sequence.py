"""Recurrent networks, attention and the Transformer: pitfalls with their numbers, clear
errors, dropout drawn as PyTorch draws it, the encoder's nested-tensor zeros, measured memory."""

import math

import pytest
import torch

import byhand
from byhand.nn import functional as F
from byhand.verify.registry import sequence as registry

D = torch.float64


def _max_err(a, b):
    return float((a - b).detach().abs().max())


def _same_weights(ours, theirs):
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


# --- pitfalls ---------------------------------------------------------------------------------
def test_lstm_weights_copied_as_ifog_break_silently():
    """PyTorch packs i, f, g, o; a copy that assumes i, f, o, g runs without error, wrongly."""
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(4, 6).double()
    ours = byhand.nn.LSTM(4, 6).double()
    x = torch.randn(7, 3, 4, dtype=D)
    ours.load_state_dict(theirs.state_dict())
    assert _max_err(ours(x)[0], theirs(x)[0]) < 1e-12

    def ifog(t):  # what a reader of i, f, o, g notes would do: swap the last two blocks
        i, f, g, o = t.chunk(4)
        return torch.cat([i, f, o, g])

    ours.load_state_dict({k: ifog(v) for k, v in theirs.state_dict().items()})
    error = _max_err(ours(x)[0], theirs(x)[0])
    assert error > 0.05, error


def test_naive_softmax_turns_a_fully_masked_row_into_nan():
    scores = torch.randn(3, 4, dtype=D)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False  # query 1 may attend to nothing
    masked = scores.masked_fill(~mask, -math.inf)
    naive = torch.exp(masked) / torch.exp(masked).sum(-1, keepdim=True)
    assert bool(naive[1].isnan().all()) and not bool(naive[0].isnan().any())
    q, k, v = (torch.randn(1, 3, 4, 2, dtype=D) for _ in range(3))
    ours = F.scaled_dot_product_attention(q[..., :3, :], k, v, attn_mask=mask)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        q[..., :3, :], k, v, attn_mask=mask
    )
    assert torch.equal(ours[..., 1, :], torch.zeros_like(ours[..., 1, :]))
    assert _max_err(ours, theirs) < 1e-12


def test_multihead_attention_returns_nan_weights_on_a_fully_padded_sequence_like_torch():
    torch.manual_seed(0)
    ours, theirs = _same_weights(
        byhand.nn.MultiheadAttention(4, 2), torch.nn.MultiheadAttention(4, 2)
    )
    x = torch.randn(3, 2, 4)
    padding = torch.tensor([[False, False, False], [True, True, True]])
    out, weights = ours(x, x, x, key_padding_mask=padding)
    ref, ref_weights = theirs(x, x, x, key_padding_mask=padding)
    assert bool(weights[1].isnan().all()) and bool(ref_weights[1].isnan().all())
    assert bool(out[:, 1].isnan().all()) and _max_err(out[:, 0], ref[:, 0]) < 1e-6
    # without the weights PyTorch goes through scaled_dot_product_attention: zeros, then bias
    out, _ = ours(x, x, x, key_padding_mask=padding, need_weights=False)
    ref, _ = theirs(x, x, x, key_padding_mask=padding, need_weights=False)
    assert not bool(out.isnan().any()) and _max_err(out, ref) < 1e-6


def _entropy(weights):
    return float(-(weights * weights.clamp_min(1e-30).log()).sum(-1).mean())


def test_missing_sqrt_dk_saturates_the_softmax_at_dk_512():
    g = torch.Generator().manual_seed(0)
    d_k, n = 512, 64
    q, k = (torch.randn(n, d_k, generator=g, dtype=D) for _ in range(2))
    scaled = torch.softmax(q @ k.T / math.sqrt(d_k), dim=-1)
    unscaled = torch.softmax(q @ k.T, dim=-1)
    uniform = math.log(n)
    # scores of std ~1 keep the weights spread; of std √512 ≈ 23 they pick one key each
    assert _entropy(scaled) > 0.6 * uniform, (_entropy(scaled), uniform)
    assert _entropy(unscaled) < 0.05 * uniform, _entropy(unscaled)
    assert float(unscaled.max(-1).values.mean()) > 0.95


class MeanEmbeddingAttention(byhand.nn.MultiheadAttention):
    """The wrong "relative position" attention: a mean of distance embeddings added to the
    output, not a bias on the logits."""

    def __init__(self, reference):
        super().__init__(reference.embed_dim, reference.num_heads)
        self.position_bias = reference.position_bias  # a bound method: no sub-module

    def forward(self, query, key, value, **kwargs):
        out, weights = super().forward(query, key, value, **kwargs)
        bias = self.position_bias(query.shape[0], key.shape[0])  # (H, L, S)
        return out + bias.mean(dim=(0, 2))[:, None, None], weights


def test_relative_position_oracle_catches_a_mean_embedding_added_to_the_output():
    entry = registry._relative()
    case = entry.cases[0]
    torch.manual_seed(0)
    ours = byhand.nn.RelativePositionAttention(**case.kwargs).double()
    oracle = registry.LoopRelativeAttention(**case.kwargs).double()
    oracle.load_state_dict(ours.state_dict())
    wrong = MeanEmbeddingAttention(ours).double()
    wrong.load_state_dict(
        {k: v for k, v in ours.state_dict().items() if k in wrong.state_dict()}
    )
    args = case.inputs(torch.Generator().manual_seed(0), D)
    q, k, v = args.args
    expected = oracle(q, k, v)[0]
    assert _max_err(ours(q, k, v)[0], expected) < 1e-12
    assert _max_err(wrong(q, k, v)[0], expected) > 0.05


def test_relative_position_attention_with_a_zero_table_is_multihead_attention():
    torch.manual_seed(0)
    ours = byhand.nn.RelativePositionAttention(6, 2, num_buckets=8, max_distance=16).double()
    plain = torch.nn.MultiheadAttention(6, 2).double()
    with torch.no_grad():
        ours.relative_attention_bias.zero_()
    plain.load_state_dict(
        {k: v for k, v in ours.state_dict().items() if k in plain.state_dict()}
    )
    x = torch.randn(9, 2, 6, dtype=D)
    out, weights = ours(x, x, x)
    ref, ref_weights = plain(x, x, x)
    assert _max_err(out, ref) < 1e-12 and _max_err(weights, ref_weights) < 1e-12


def test_t5_buckets_by_hand_and_vectorised_agree_for_every_distance():
    distance = torch.arange(-300, 301)
    for bidirectional in (True, False):
        for clipped in (True, False):
            ours = F.relative_position_bucket(distance, bidirectional, 32, 128, clipped)
            loop = [
                registry.bucket_by_hand(int(d), bidirectional, 32, 128, clipped)
                for d in distance
            ]
            assert ours.tolist() == loop
    buckets = F.relative_position_bucket(distance, True, 32, 128)
    assert int(buckets.max()) == 31 and int(buckets.min()) == 0
    assert buckets[300 + 5] == 16 + 5 and buckets[300 - 5] == 5  # exact below 8 each way


# --- clear errors -----------------------------------------------------------------------------
def test_embed_dim_not_divisible_by_num_heads():
    with pytest.raises(
        AssertionError, match=r"embed_dim=10 and num_heads=3 \(embed_dim % num_heads = 1\)"
    ):
        byhand.nn.MultiheadAttention(10, 3)


def test_attention_mask_of_the_wrong_shape_or_dtype():
    q = torch.randn(2, 3, 5, 4)
    with pytest.raises(
        ValueError, match=r"attn_mask of shape \(4, 7\) does not broadcast .*\(2, 3, 5, 5\)"
    ):
        F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(4, 7, dtype=torch.bool))
    with pytest.raises(TypeError, match="attn_mask must be bool .* got torch.int64"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(5, 5, dtype=torch.long))
    mha = byhand.nn.MultiheadAttention(4, 2)
    x = torch.randn(5, 2, 4)
    with pytest.raises(ValueError, match=r"attn_mask should be \(5, 5\) .*got \(5, 4\)"):
        mha(x, x, x, attn_mask=torch.zeros(5, 4, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"key_padding_mask should be \(N, S\) = \(2, 5\), got \(2, 4\)"
    ):
        mha(x, x, x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="key_padding_mask must be bool .* got torch.int64"):
        mha(x, x, x, key_padding_mask=torch.zeros(2, 5, dtype=torch.long))


def test_input_size_mismatch_names_both():
    with pytest.raises(
        ValueError, match=r"LSTM expects input of shape \(L, N, 4\).*got \(7, 3, 5\)"
    ):
        byhand.nn.LSTM(4, 6)(torch.randn(7, 3, 5))
    with pytest.raises(
        ValueError, match=r"GRUCell expects input of shape \(N, 4\).*got \(3, 5\)"
    ):
        byhand.nn.GRUCell(4, 6)(torch.randn(3, 5))
    with pytest.raises(AssertionError, match=r"expected query with embed_dim 4, got 6"):
        x = torch.randn(5, 2, 6)
        byhand.nn.MultiheadAttention(4, 2)(x, x, x)


def test_initial_state_of_the_wrong_shape_names_expected_and_received():
    lstm = byhand.nn.LSTM(4, 6, num_layers=2, bidirectional=True)
    x = torch.randn(7, 3, 4)
    with pytest.raises(
        ValueError, match=r"hx\[0\] \(h0\) of shape \(4, 3, 6\).*got \(2, 3, 6\)"
    ):
        lstm(x, (torch.zeros(2, 3, 6), torch.zeros(4, 3, 6)))
    with pytest.raises(
        ValueError, match=r"hx\[1\] \(c0\) of shape \(4, 3, 6\).*got \(4, 3, 5\)"
    ):
        lstm(x, (torch.zeros(4, 3, 6), torch.zeros(4, 3, 5)))
    with pytest.raises(
        ValueError, match=r"GRU expects hx of shape \(1, 3, 6\).*got \(1, 2, 6\)"
    ):
        byhand.nn.GRU(4, 6)(x, torch.zeros(1, 2, 6))
    with pytest.raises(ValueError, match=r"RNNCell expects hx of shape \(3, 6\), got \(6,\)"):
        byhand.nn.RNNCell(4, 6)(torch.randn(3, 4), torch.zeros(6))


# --- dropout: the same draws as PyTorch on the CPU ----------------------------------------------
def _twin_train(ours, theirs, *args, **kwargs):
    ours.load_state_dict(theirs.state_dict())
    ours.train(), theirs.train()
    torch.manual_seed(7)
    a = ours(*args, **kwargs)
    torch.manual_seed(7)
    b = theirs(*args, **kwargs)
    return a, b


def test_dropout_between_recurrent_layers_matches_torch_draw_for_draw():
    x = torch.randn(6, 3, 4, dtype=D)
    for cls in ("RNN", "LSTM", "GRU"):
        kw = dict(input_size=4, hidden_size=5, num_layers=3, dropout=0.4, bidirectional=True)
        a, b = _twin_train(
            getattr(byhand.nn, cls)(**kw).double(), getattr(torch.nn, cls)(**kw).double(), x
        )
        assert _max_err(a[0], b[0]) < 1e-12, cls
        # and it is active: eval differs from train
        assert _max_err(a[0], getattr(torch.nn, cls)(**kw).double().eval()(x)[0]) > 1e-3


def test_attention_and_transformer_dropout_match_torch_draw_for_draw():
    q, k, v = (torch.randn(2, 2, 5, 4, dtype=D) for _ in range(3))
    torch.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    torch.manual_seed(3)
    b = torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert _max_err(a, b) < 1e-12
    x = torch.randn(5, 2, 8, dtype=D)
    for need_weights in (True, False):
        a, b = _twin_train(
            byhand.nn.MultiheadAttention(8, 2, dropout=0.3).double(),
            torch.nn.MultiheadAttention(8, 2, dropout=0.3).double(),
            x,
            x,
            x,
            need_weights=need_weights,
        )
        assert _max_err(a[0], b[0]) < 1e-12
    for norm_first in (False, True):
        kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.2, norm_first=norm_first)
        a, b = _twin_train(
            byhand.nn.TransformerEncoderLayer(**kw).double(),
            torch.nn.TransformerEncoderLayer(**kw).double(),
            x,
        )
        assert _max_err(a, b) < 1e-12
        a, b = _twin_train(
            byhand.nn.TransformerDecoderLayer(**kw).double(),
            torch.nn.TransformerDecoderLayer(**kw).double(),
            x,
            x[:3],
        )
        assert _max_err(a, b) < 1e-12


# --- PyTorch's inference paths ----------------------------------------------------------------
def test_encoder_in_eval_without_grad_zeroes_padded_positions_like_torch():
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 2).eval()
    ours = byhand.nn.TransformerEncoder(byhand.nn.TransformerEncoderLayer(**kw), 2).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 6, 8)
    padding = torch.zeros(3, 6, dtype=torch.bool)
    padding[1, 4:] = True
    padding[2, 2:] = True
    with torch.no_grad():
        ref = theirs(x, src_key_padding_mask=padding)
        out = ours(x, src_key_padding_mask=padding)
    assert float(ref[padding].abs().max()) == 0.0  # PyTorch's nested tensors pad with zeros
    assert _max_err(out, ref) < 1e-5
    # with autograd on, neither takes that path: padded positions hold ordinary values
    out, ref = ours(x, src_key_padding_mask=padding), theirs(x, src_key_padding_mask=padding)
    assert float(ref[padding].abs().min()) > 0 and _max_err(out, ref) < 1e-5


def test_multihead_attention_fast_path_agrees_in_eval():
    torch.manual_seed(0)
    ours, theirs = _same_weights(
        byhand.nn.MultiheadAttention(8, 2, batch_first=True),
        torch.nn.MultiheadAttention(8, 2, batch_first=True),
    )
    ours.eval(), theirs.eval()
    x = torch.randn(2, 5, 8)
    padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    with torch.no_grad():
        for need_weights in (True, False):
            out = ours(x, x, x, key_padding_mask=padding, need_weights=need_weights)
            ref = theirs(x, x, x, key_padding_mask=padding, need_weights=need_weights)
            assert _max_err(out[0], ref[0]) < 1e-5


# --- local attention: memory measured -----------------------------------------------------------
def saved_bytes(fn, *inputs):
    """Bytes autograd keeps for the backward pass of ``fn(*inputs)`` (activation memory)."""
    total = []

    def pack(t):
        total.append(t.untyped_storage().nbytes() if t.layout == torch.strided else 0)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    return sum(total)


def test_local_attention_keeps_o_n_w_memory_and_matches_the_band_mask():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 2048, 16, generator=g, requires_grad=True) for _ in range(3))
    window = 16
    local = saved_bytes(lambda: F.local_attention(q, k, v, window))
    full = saved_bytes(lambda: F.scaled_dot_product_attention(q, k, v))
    assert full > 10 * local, (full, local)  # (2048 × 2048) scores vs (2048 × 48)
    i = torch.arange(2048)
    band = (i[:, None] - i[None, :]).abs() <= window
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
    assert _max_err(F.local_attention(q, k, v, window), reference) < 1e-5
