"""Networks assembled from the classic layers: ``FullyConnectedNet``, ``ThreeLayerConvNet`` and
``CaptioningRNN``.

A model keeps its weights in ``self.params`` (name → array). ``loss(X, y)`` returns
``(loss, grads)`` with one gradient per parameter; ``loss(X)`` returns the class scores.
"""

import numpy as np

from byhand.classic.conv import conv_backward_fast, conv_forward_fast, conv_output_size
from byhand.classic.layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    word_embedding_backward,
    word_embedding_forward,
)
from byhand.classic.losses import softmax_loss, temporal_softmax_loss
from byhand.classic.normalization import (
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)
from byhand.classic.pooling import max_pool_backward_fast, max_pool_forward_fast
from byhand.classic.rnn import (
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
)

__all__ = ["FullyConnectedNet", "ThreeLayerConvNet", "CaptioningRNN"]


def _l2(reg, params, names):
    """reg/2 · Σ ‖W‖² over the weight matrices ``names`` (biases and norm scales are free)."""
    return 0.5 * reg * sum(np.sum(params[name] ** 2) for name in names)


# --8<-- [start:fully_connected_net]
class FullyConnectedNet:
    """{affine - [batch/layer norm] - relu - [dropout]} × (L − 1) - affine - softmax.

    ``hidden_dims`` gives the L − 1 hidden widths; ``keep_prob`` < 1 adds dropout;
    ``normalization`` is None, 'batchnorm' or 'layernorm'; ``reg`` the L2 strength on the
    weights; weights drawn from N(0, weight_scale²) by ``np.random.default_rng(seed)``.
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        keep_prob=1.0,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float64,
        seed=None,
    ):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}"
            )
        self.normalization, self.keep_prob, self.reg = normalization, keep_prob, reg
        self.num_layers = len(hidden_dims) + 1
        self.rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            self.params[f"W{layer}"] = weight_scale * self.rng.standard_normal(
                (fan_in, fan_out)
            )
            self.params[f"b{layer}"] = np.zeros(fan_out)
            if normalization and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(fan_out)
                self.params[f"beta{layer}"] = np.zeros(fan_out)
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

    def loss(self, X, y=None):
        """Scores (N, C) when ``y`` is None (test mode), else (loss, grads)."""
        train = y is not None
        for bn_param in self.bn_params:
            bn_param["mode"] = "train" if train else "test"
        caches, out = [], X
        for layer in range(1, self.num_layers):
            p = {k: self.params.get(f"{k}{layer}") for k in ("W", "b", "gamma", "beta")}
            out, affine_cache = affine_forward(out, p["W"], p["b"])
            norm_cache = None
            if self.normalization == "batchnorm":
                bn = self.bn_params[layer - 1]
                out, norm_cache = batchnorm_forward(out, p["gamma"], p["beta"], bn)
            elif self.normalization == "layernorm":
                out, norm_cache = layernorm_forward(out, p["gamma"], p["beta"])
            out, relu_cache = relu_forward(out)
            drop_cache = None
            if self.keep_prob < 1:
                out, drop_cache = dropout_forward(out, self.keep_prob, train, self.rng)
            caches.append((affine_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        if not train:
            return scores

        weights = [f"W{layer}" for layer in range(1, L + 1)]
        loss, dscores = softmax_loss(scores, y)
        loss += _l2(self.reg, self.params, weights)
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for layer in range(L - 1, 0, -1):
            affine_cache, norm_cache, relu_cache, drop_cache = caches[layer - 1]
            if drop_cache is not None:
                dout = dropout_backward(dout, drop_cache)
            dout = relu_backward(dout, relu_cache)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward_alt(
                    dout, norm_cache
                )
            elif self.normalization == "layernorm":
                dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layernorm_backward(
                    dout, norm_cache
                )
            dout, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dout, affine_cache)
        for name in weights:
            grads[name] += self.reg * self.params[name]
        return loss, grads


# --8<-- [end:fully_connected_net]


# --8<-- [start:three_layer_convnet]
class ThreeLayerConvNet:
    """conv - relu - 2×2 max pool - affine - relu - affine - softmax, on (N, C, H, W) inputs.

    The convolution keeps the size (stride 1, pad (filter_size − 1) // 2, odd filter sizes).
    W1 (F, C, k, k), W2 (F·H/2·W/2, hidden), W3 (hidden, classes); weights from
    N(0, weight_scale²), biases 0.
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float64,
        seed=None,
    ):
        C, H, W = input_dim
        self.reg, self.pad = reg, (filter_size - 1) // 2
        Ho = conv_output_size(H, filter_size, 1, self.pad) // 2
        Wo = conv_output_size(W, filter_size, 1, self.pad) // 2
        rng = np.random.default_rng(seed)
        shapes = {
            "W1": (num_filters, C, filter_size, filter_size),
            "W2": (num_filters * Ho * Wo, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for layer, (name, shape) in enumerate(shapes.items(), start=1):
            self.params[name] = (weight_scale * rng.standard_normal(shape)).astype(dtype)
            self.params[f"b{layer}"] = np.zeros(shape[0 if layer == 1 else 1], dtype=dtype)

    def loss(self, X, y=None):
        """Scores (N, classes) when ``y`` is None, else (loss, grads)."""
        p = self.params
        conv, conv_cache = conv_forward_fast(X, p["W1"], p["b1"], stride=1, pad=self.pad)
        relu, relu_cache = relu_forward(conv)
        pooled, pool_cache = max_pool_forward_fast(relu, 2, 2, 2)
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += _l2(self.reg, p, ("W1", "W2", "W3"))
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        drelu = max_pool_backward_fast(dpooled, pool_cache)
        dconv = relu_backward(drelu, relu_cache)
        _, grads["W1"], grads["b1"] = conv_backward_fast(dconv, conv_cache)
        for name in ("W1", "W2", "W3"):
            grads[name] += self.reg * p[name]
        return loss, grads


# --8<-- [end:three_layer_convnet]


# --8<-- [start:captioning_rnn]
class CaptioningRNN:
    """Image features (N, D) → initial hidden state; words in, next-word scores out.

    h0 = features W_proj + b_proj; each step embeds the previous word, runs an RNN or LSTM cell,
    and scores the vocabulary with a temporal affine layer. ``word_to_idx`` must hold '<NULL>',
    '<START>' and '<END>'; '<NULL>' positions are masked out of the loss.
    """

    def __init__(
        self,
        word_to_idx,
        input_dim=512,
        wordvec_dim=128,
        hidden_dim=128,
        cell_type="rnn",
        dtype=np.float64,
        seed=None,
    ):
        if cell_type not in ("rnn", "lstm"):
            raise ValueError(f"cell_type must be 'rnn' or 'lstm', got {cell_type!r}")
        missing = {"<NULL>", "<START>", "<END>"} - set(word_to_idx)
        if missing:
            raise ValueError(f"word_to_idx lacks the special tokens {sorted(missing)}")
        self.cell_type, self.word_to_idx = cell_type, word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.null, self.start, self.end = (
            word_to_idx[t] for t in ("<NULL>", "<START>", "<END>")
        )
        V, gates = len(word_to_idx), 4 if cell_type == "lstm" else 1
        rng = np.random.default_rng(seed)

        def scaled(fan_in, *shape):
            return rng.standard_normal(shape) / np.sqrt(fan_in)

        self.params = {
            "W_embed": rng.standard_normal((V, wordvec_dim)) / 100,
            "W_proj": scaled(input_dim, input_dim, hidden_dim),
            "b_proj": np.zeros(hidden_dim),
            "Wx": scaled(wordvec_dim, wordvec_dim, gates * hidden_dim),
            "Wh": scaled(hidden_dim, hidden_dim, gates * hidden_dim),
            "b": np.zeros(gates * hidden_dim),
            "W_vocab": scaled(hidden_dim, hidden_dim, V),
            "b_vocab": np.zeros(V),
        }
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}

    def loss(self, features, captions):
        """captions (N, T+1) of word indices: the model reads [:, :-1] and predicts [:, 1:].

        Returns (loss, grads); the loss sums over time and averages over N.
        """
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self.null
        h0, proj_cache = affine_forward(features, p["W_proj"], p["b_proj"])
        words, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        sequence_forward = lstm_forward if self.cell_type == "lstm" else rnn_forward
        h, rnn_cache = sequence_forward(words, h0, p["Wx"], p["Wh"], p["b"])
        scores, scores_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, scores_cache)
        sequence_backward = lstm_backward if self.cell_type == "lstm" else rnn_backward
        dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = sequence_backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dwords, embed_cache)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache)
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedy decoding: start from '<START>', feed back the highest-scoring word each step.

        Returns captions (N, max_length) of word indices (words after '<END>' are '<NULL>').
        """
        p = self.params
        N = features.shape[0]
        h, _ = affine_forward(features, p["W_proj"], p["b_proj"])
        c = np.zeros_like(h)
        word = np.full(N, self.start)
        captions = np.full((N, max_length), self.null)
        finished = np.zeros(N, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            word = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
            captions[:, t] = np.where(finished, self.null, word)
            finished |= word == self.end
        return captions


# --8<-- [end:captioning_rnn]
