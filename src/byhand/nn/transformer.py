"""Transformer layers and stacks: ``TransformerEncoderLayer``, ``TransformerEncoder``,
``TransformerDecoderLayer``, ``TransformerDecoder`` and the encoder-decoder ``Transformer``,
drop-ins for ``torch.nn``'s (same sub-module names, so the state_dicts load both ways, and the
same draws from the same seed)."""

import copy

import torch

from byhand.nn import functional as F
from byhand.nn import init
from byhand.nn.attention import MultiheadAttention
from byhand.nn.dropout import Dropout
from byhand.nn.functional.activation import gelu
from byhand.nn.linear import Linear
from byhand.nn.normalization import LayerNorm

__all__ = [
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]

ACTIVATIONS = {"relu": F.relu, "gelu": gelu}


def _activation(activation):
    """A name (``"relu"``, ``"gelu"``) or any callable; PyTorch's code for the two it knows."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation should be relu/gelu, not {activation}")
        activation = ACTIVATIONS[activation]
    if activation in (F.relu, torch.nn.functional.relu) or isinstance(
        activation, torch.nn.ReLU
    ):
        return activation, 1
    if activation in (gelu, torch.nn.functional.gelu) or isinstance(activation, torch.nn.GELU):
        return activation, 2
    return activation, 0


# --8<-- [start:encoder_layer]
class TransformerEncoderLayer(torch.nn.Module):
    """Self-attention then a feed-forward network, each inside a residual connection.

    Post-norm (``norm_first=False``, the 2017 paper): ``x = norm1(x + SA(x))``,
    ``x = norm2(x + FF(x))``. Pre-norm: ``x = x + SA(norm1(x))``, ``x = x + FF(norm2(x))``,
    which leaves an identity path from input to output. ``FF(x) = W₂ dropout(act(W₁ x))``.

    Shapes: ``src`` ``(S, N, E)`` (``batch_first``: ``(N, S, E)``); the output has the same
    shape.
    """

    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation, self.activation_relu_or_gelu = _activation(activation)

    # --8<-- [start:core_encoder_layer]
    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    # --8<-- [end:core_encoder_layer]


# --8<-- [end:encoder_layer]


# --8<-- [start:encoder]
def generate_square_subsequent_mask(size, device=None, dtype=None):
    """``(size, size)`` additive causal mask: ``0`` on and below the diagonal, ``-inf``
    above."""
    full = torch.full((size, size), float("-inf"), device=device, dtype=dtype)
    return torch.triu(full, diagonal=1)


def _sequence_length(x, batch_first):
    """The length ``L`` of ``(L, E)``, ``(L, N, E)`` or, with ``batch_first``, ``(N, L, E)``."""
    return x.shape[0] if x.dim() == 2 else x.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal, size):
    """``is_causal`` when given; else whether ``mask`` is exactly the causal mask of ``size``
    (as PyTorch decides, comparing in the mask's own dtype: ``True``/``-inf`` above the
    diagonal)."""
    if is_causal is not None or mask is None:
        return is_causal is True
    causal = generate_square_subsequent_mask(size, mask.device, mask.dtype)
    return mask.shape == causal.shape and bool((mask == causal).all())


class TransformerEncoder(torch.nn.Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    PyTorch's encoder, in ``eval()`` without autograd and with a ``src_key_padding_mask`` (and
    no ``mask``), runs on nested tensors and returns **zeros at the padded positions**; this one
    does the same, so the two agree everywhere (see the page's pitfalls).

    Shapes: ``src`` ``(S, N, E)`` (``batch_first``: ``(N, S, E)``); the output has the same
    shape.
    """

    def __init__(
        self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True
    ):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            copy.deepcopy(encoder_layer) for _ in range(num_layers)
        )
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check
        self.use_nested_tensor = enable_nested_tensor and self._nested_layer(encoder_layer)

    @staticmethod
    def _nested_layer(layer):
        """The layer configurations for which PyTorch's encoder uses nested tensors."""
        kinds = (TransformerEncoderLayer, torch.nn.TransformerEncoderLayer)
        attention = getattr(layer, "self_attn", None)
        return (
            isinstance(layer, kinds)
            and not layer.norm_first
            and attention.batch_first
            and attention._qkv_same_embed_dim
            and attention.in_proj_bias is not None
            and bool(layer.activation_relu_or_gelu)
            and layer.norm1.eps == layer.norm2.eps
            and attention.num_heads % 2 == 0
        )

    def _zeroes_padding(self, src, mask, padding):
        """Whether PyTorch would take its nested-tensor path for this call."""
        if not (self.use_nested_tensor and torch.backends.mha.get_fastpath_enabled()):
            return False
        if self.layers[0].training or src.dim() != 3 or padding is None or mask is not None:
            return False
        if padding.dtype != torch.bool:
            padding = padding != 0
        if self.mask_check and bool((padding[:, 1:] < padding[:, :-1]).any()):
            return False  # padding must be at the end of each sequence (left-aligned)
        first = self.layers[0]
        tensors = [src, *first.parameters()]
        return not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        batch_first = self.layers[0].self_attn.batch_first
        is_causal = _detect_is_causal_mask(mask, is_causal, _sequence_length(src, batch_first))
        zero_padding = self._zeroes_padding(src, mask, src_key_padding_mask)
        output = src
        for layer in self.layers:
            output = layer(
                output,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=is_causal,
            )
        if zero_padding:
            padded = (
                src_key_padding_mask
                if src_key_padding_mask.dtype == torch.bool
                else (src_key_padding_mask != 0)
            )
            padded = padded if batch_first else padded.transpose(0, 1)
            output = output.masked_fill(padded.unsqueeze(-1), 0.0)
        if self.norm is not None:
            output = self.norm(output)
        return output


# --8<-- [end:encoder]


# --8<-- [start:decoder_layer]
class TransformerDecoderLayer(torch.nn.Module):
    """Self-attention over the target, attention to the encoder's ``memory``, feed-forward;
    each in a residual connection, normalised after (``norm_first=False``) or before.

    Shapes: ``tgt`` ``(T, N, E)``, ``memory`` ``(S, N, E)`` (``batch_first``: batch first); the
    output has the shape of ``tgt``.
    """

    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **factory
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)[0]

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=False,
        memory_is_causal=False,
    ):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x
                + self._mha_block(
                    x, memory, memory_mask, memory_key_padding_mask, memory_is_causal
                )
            )
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


# --8<-- [end:decoder_layer]


# --8<-- [start:decoder]
class TransformerDecoder(torch.nn.Module):
    """``num_layers`` deep copies of ``decoder_layer`` (each reads ``memory``), then norm.

    Shapes: ``tgt`` ``(T, N, E)`` and ``memory`` ``(S, N, E)`` (batch first with the layer's
    ``batch_first``); returns ``(T, N, E)``.
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            copy.deepcopy(decoder_layer) for _ in range(num_layers)
        )
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=None,
        memory_is_causal=False,
    ):
        length = _sequence_length(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, length)
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


# --8<-- [end:decoder]


# --8<-- [start:transformer]
class Transformer(torch.nn.Module):
    """The encoder-decoder of "Attention is all you need": ``encoder(src)`` is the memory that
    every decoder layer attends to while it reads ``tgt``; both stacks end in a ``LayerNorm``.

    ``src (S, N, E)``, ``tgt (T, N, E)`` (``(N, S, E)``, ``(N, T, E)`` with ``batch_first``, or
    unbatched ``(S, E)``, ``(T, E)``) → ``(T, N, E)``. Every matrix is re-drawn Xavier-uniform.
    """

    def __init__(
        self,
        d_model=512,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        layer_kwargs = dict(
            batch_first=batch_first, norm_first=norm_first, bias=bias, **factory
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, **layer_kwargs),
                num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory),
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, **layer_kwargs),
                num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory),
            )
        for parameter in self.parameters():  # in registration order, as PyTorch draws them
            if parameter.dim() > 1:
                init.xavier_uniform_(parameter)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(
        self,
        src,
        tgt,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal=None,
        tgt_is_causal=None,
        memory_is_causal=False,
    ):
        batch = 0 if self.batch_first else 1
        if src.dim() == 3 and src.shape[batch] != tgt.shape[batch]:
            raise RuntimeError(
                "the batch number of src and tgt must be equal: Transformer expects "
                f"src and tgt with the same batch size, got src {tuple(src.shape)} and "
                f"tgt {tuple(tgt.shape)} (batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(
                "the feature number of src and tgt must be equal to d_model: expected "
                f"{self.d_model}, got src {tuple(src.shape)} and tgt {tuple(tgt.shape)}"
            )
        memory = self.encoder(
            src,
            mask=src_mask,
            src_key_padding_mask=src_key_padding_mask,
            is_causal=src_is_causal,
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """``(sz, sz)``: ``0`` on and below the diagonal, ``-inf`` above (PyTorch's name)."""
        return generate_square_subsequent_mask(sz, device, dtype)


# --8<-- [end:transformer]
