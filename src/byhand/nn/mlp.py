"""Networks of linear layers: ``MLP`` (shaped like ``torchvision.ops.MLP``), a pre-norm
``ResidualMLP`` block, and a ``MixtureOfExperts`` with soft or top-k routing."""

import torch

from byhand.nn import functional as F
from byhand.nn.activation import ReLU
from byhand.nn.dropout import Dropout
from byhand.nn.linear import Linear
from byhand.nn.normalization import LayerNorm

__all__ = ["MLP", "MixtureOfExperts", "ResidualMLP"]


# --8<-- [start:mlp]
class MLP(torch.nn.Sequential):
    """``Linear → [norm] → activation → Dropout`` per hidden size, then ``Linear → Dropout``.

    ``(*, in_channels) → (*, hidden_channels[-1])``; the same layers, in the same order and with
    the same state_dict keys (``0.weight``, ...), as ``torchvision.ops.MLP``.
    """

    def __init__(
        self,
        in_channels,
        hidden_channels,
        norm_layer=None,
        activation_layer=ReLU,
        inplace=None,
        bias=True,
        dropout=0.0,
    ):
        if len(hidden_channels) == 0:
            raise ValueError("MLP expects at least one size in hidden_channels, got none")
        params = {} if inplace is None else {"inplace": inplace}
        layers = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            layers.append(activation_layer(**params))
            layers.append(Dropout(dropout, **params))
            in_dim = hidden_dim
        layers.append(Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(Dropout(dropout, **params))
        super().__init__(*layers)


# --8<-- [end:mlp]


# --8<-- [start:residual_mlp]
class ResidualMLP(torch.nn.Module):
    """A pre-norm residual block on ``(*, dim)``: ``x + Dropout(W₂ act(W₁ norm(x)))``.

    The normalisation sits on the branch, so the skip path carries ``x`` untouched from block
    to block (the layout of pre-norm Transformers).
    """

    def __init__(
        self,
        dim,
        hidden_dim,
        activation_layer=ReLU,
        norm_layer=LayerNorm,
        dropout=0.0,
        bias=True,
    ):
        super().__init__()
        self.norm = norm_layer(dim)
        self.fc1 = Linear(dim, hidden_dim, bias=bias)
        self.activation = activation_layer()
        self.fc2 = Linear(hidden_dim, dim, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, input):
        branch = self.fc2(self.activation(self.fc1(self.norm(input))))
        return input + self.dropout(branch)


# --8<-- [end:residual_mlp]


# --8<-- [start:mixture_of_experts]
class MixtureOfExperts(torch.nn.Module):
    """``y = Σ_e g_e(x) · expert_e(x)`` on ``(*, in_features)`` → ``(*, out_features)``.

    A bias-free ``gate`` Linear scores the ``num_experts`` experts; ``top_k=None`` mixes all of
    them with the softmax weights (a soft gate), ``top_k=k`` sends each token only to its ``k``
    most probable experts (no capacity limit: nothing is dropped). Each expert is an
    ``MLP(in, [hidden_features, out_features])`` or, without ``hidden_features``, a ``Linear``.
    ``forward(input, return_aux_loss=True)`` also returns the load-balancing loss.
    """

    def __init__(
        self,
        in_features,
        out_features,
        num_experts,
        hidden_features=None,
        top_k=None,
        renormalize=False,
        activation_layer=ReLU,
        bias=True,
    ):
        super().__init__()
        if top_k is not None and not 1 <= top_k <= num_experts:
            raise ValueError(
                f"MixtureOfExperts expects 1 <= top_k <= num_experts={num_experts}, got {top_k}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.num_experts, self.top_k, self.renormalize = num_experts, top_k, renormalize
        self.gate = Linear(in_features, num_experts, bias=False)

        def expert():
            if hidden_features is None:
                return Linear(in_features, out_features, bias=bias)
            return MLP(
                in_features, [hidden_features, out_features], None, activation_layer, bias=bias
            )

        self.experts = torch.nn.ModuleList(expert() for _ in range(num_experts))

    def forward(self, input, return_aux_loss=False):
        if input.dim() == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"MixtureOfExperts expects input of shape (*, {self.in_features}), "
                f"got {tuple(input.shape)}"
            )
        tokens = input.reshape(-1, self.in_features)  # (T, in)
        probs, weights, chosen = F.top_k_gating(self.gate(tokens), self.top_k, self.renormalize)
        if self.top_k is None:  # every expert sees every token: stack them and mix with einsum
            outputs = torch.stack([expert(tokens) for expert in self.experts], dim=1)
            mixed = torch.einsum("te,teo->to", weights, outputs)
        else:  # dispatch: each expert runs on its own tokens only, results added back in place
            mixed = tokens.new_zeros(tokens.shape[0], self.out_features)
            for e, expert in enumerate(self.experts):
                token, slot = (chosen == e).nonzero(as_tuple=True)
                if token.numel() > 0:
                    gated = weights[token, slot].unsqueeze(1) * expert(tokens[token])
                    mixed = mixed.index_add(0, token, gated)
        output = mixed.reshape(*input.shape[:-1], self.out_features)
        if not return_aux_loss:
            return output
        routed = chosen if self.top_k is not None else probs.argmax(-1, keepdim=True)
        return output, F.load_balancing_loss(probs, routed)


# --8<-- [end:mixture_of_experts]
