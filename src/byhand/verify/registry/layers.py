"""Registry chapter: normalisation, dropout, embedding, reshapes, MLPs and mixture of experts
(docs/modules/normalization.md, dropout.md, embedding.md, mlp.md).

Random blocks: the checks seed both sides identically before the forward, so a mask drawn the
way PyTorch draws it is the same mask. On the CPU ``byhand.nn.Dropout`` therefore matches
``torch.nn.Dropout`` bit for bit. On CUDA PyTorch's element-wise dropout runs a fused kernel
that draws its mask with its own layout of the random stream, which no tensor-level draw
reproduces; there (train mode only) the reference becomes the formula ``x · m / (1 − p)`` with
``m`` drawn by ``bernoulli_`` — see ``_DeviceTwin``. Oracle entries whose forward is random are
gradient-checked with the generator reseeded before every call, so the mask is fixed while
finite differences are taken (``_ReseededGradcheck``).
"""

import dataclasses
from collections.abc import Callable

import torch

import byhand
from byhand.verify.pairs import SEED, Args, Case, ModulePair, family, twin
from byhand.verify.registry._inputs import randn

NORM_PAGE = "modules/normalization.md"
DROPOUT_PAGE = "modules/dropout.md"
EMBEDDING_PAGE = "modules/embedding.md"
MLP_PAGE = "modules/mlp.md"


# --- machinery for random blocks --------------------------------------------------------------
class _Reseeded(torch.nn.Module):
    """``module`` run with every generator seeded to ``SEED``: the same mask every call."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
        cuda = [device.index or 0] if device is not None and device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(SEED)
            return self.module(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class _DeviceTwin(ModulePair):
    """A twin whose reference is ``device_theirs`` in train mode off the CPU (see the module
    docstring); ``gradcheck`` runs on the module reseeded before every call."""

    device_theirs: Callable | None = None
    device_reference: str = ""

    def check(self, case, mode, device="cpu", dtype=torch.float64):
        if (
            self.device_theirs is not None
            and mode == "train"
            and torch.device(device).type != "cpu"
        ):
            swapped = dataclasses.replace(
                self,
                theirs=self.device_theirs,
                reference=self.device_reference,
                device_theirs=None,
            )
            return swapped.check(case, mode, device, dtype)
        return super().check(case, mode, device, dtype)

    @staticmethod
    def _gradcheck(cmp, module, inputs, device, dtype):
        return ModulePair._gradcheck(cmp, _Reseeded(module), inputs, device, dtype)


def _with_fields(entry, cls=_DeviceTwin, **fields):
    """``entry`` (a ``ModulePair``) rebuilt as ``cls`` with extra ``fields``."""
    values = {f.name: getattr(entry, f.name) for f in dataclasses.fields(ModulePair)}
    return cls(**values, **fields)


class DropoutFormula(torch.nn.Module):
    """Reference dropout: ``x · m / (1 − p)``, ``m ~ Bernoulli(1 − p)`` drawn by ``bernoulli_``
    on a tensor of the input's shape; the identity in eval."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p

    def forward(self, input):
        if not self.training or self.p == 0:
            return input
        mask = torch.empty_like(input).bernoulli_(1 - self.p)
        return input * mask / (1 - self.p) if self.p < 1 else input * 0


# --- inputs -----------------------------------------------------------------------------------
def _channels_last(*shape):
    def make(g, dtype):
        x = torch.randn(*shape, generator=g, dtype=dtype)
        return (x.contiguous(memory_format=torch.channels_last),)

    return make


def _transposed(*shape):
    """A non-contiguous input: drawn as ``shape`` reversed in its last two axes, transposed."""

    def make(g, dtype):
        x = torch.randn(*shape[:-2], shape[-1], shape[-2], generator=g, dtype=dtype)
        return (x.transpose(-1, -2),)

    return make


def _shifted(*shape, loc=5.0, scale=3.0):
    return lambda g, dtype: (loc + scale * torch.randn(*shape, generator=g, dtype=dtype),)


def _indices(num_embeddings, *shape, padding=None):
    def make(g, dtype):
        idx = torch.randint(0, num_embeddings, shape, generator=g)
        if padding is not None:
            idx.view(-1)[::3] = padding % num_embeddings  # make sure the padding row is used
        return (idx,)

    return make


# --- normalisation ----------------------------------------------------------------------------
# --8<-- [start:norm_entries]
NORM = family(
    (
        "nn.BatchNorm1d",
        dict(
            inputs=_shifted(8, 5),
            cases=(
                Case("(N, C)", dict(num_features=5)),
                Case("(N, C, L)", dict(num_features=5), inputs=_shifted(4, 5, 3)),
                Case("momentum None", dict(num_features=5, momentum=None)),
                Case("momentum 0.3, eps 1e-3", dict(num_features=5, momentum=0.3, eps=1e-3)),
                Case("affine False", dict(num_features=5, affine=False)),
                Case("bias False", dict(num_features=5, bias=False)),
                Case("no running stats", dict(num_features=5, track_running_stats=False)),
                Case("N=1, L=3", dict(num_features=5), inputs=_shifted(1, 5, 3)),
            ),
            bench=Case("(1024, 512)", dict(num_features=512), inputs=randn(1024, 512)),
        ),
    ),
    (
        "nn.BatchNorm2d",
        dict(
            inputs=_shifted(4, 3, 5, 5),
            cases=(
                Case("default", dict(num_features=3)),
                Case("momentum None", dict(num_features=3, momentum=None)),
                Case("momentum 0.8", dict(num_features=3, momentum=0.8, eps=1e-3)),
                Case("affine False", dict(num_features=3, affine=False)),
                Case("no running stats", dict(num_features=3, track_running_stats=False)),
                Case("channels_last", dict(num_features=3), inputs=_channels_last(4, 3, 5, 5)),
                Case("non-contiguous", dict(num_features=3), inputs=_transposed(4, 3, 5, 6)),
            ),
            bench=Case("(32, 64, 32, 32)", dict(num_features=64), inputs=randn(32, 64, 32, 32)),
        ),
    ),
    (
        "nn.LayerNorm",
        dict(
            inputs=_shifted(4, 6, 5),
            cases=(
                Case("int shape", dict(normalized_shape=5)),
                Case(
                    "shape (3, 5)", dict(normalized_shape=(3, 5)), inputs=_shifted(2, 4, 3, 5)
                ),
                Case("no affine", dict(normalized_shape=[5], elementwise_affine=False)),
                Case("bias False, eps 1e-3", dict(normalized_shape=5, bias=False, eps=1e-3)),
                Case("non-contiguous", dict(normalized_shape=6), inputs=_transposed(3, 6, 6)),
            ),
            bench=Case(
                "(64, 256, 512)", dict(normalized_shape=512), inputs=randn(64, 256, 512)
            ),
        ),
    ),
    (
        "nn.GroupNorm",
        dict(
            inputs=_shifted(4, 6, 3, 3),
            cases=(
                Case("3 groups of 2", dict(num_groups=3, num_channels=6)),
                Case("1 group (layer norm)", dict(num_groups=1, num_channels=6)),
                Case("6 groups (instance norm)", dict(num_groups=6, num_channels=6)),
                Case("no affine", dict(num_groups=2, num_channels=6, affine=False)),
                Case("(N, C)", dict(num_groups=2, num_channels=6), inputs=_shifted(5, 6)),
                Case(
                    "channels_last",
                    dict(num_groups=3, num_channels=6, eps=1e-3),
                    inputs=_channels_last(2, 6, 4, 4),
                ),
            ),
            bench=Case(
                "(32, 64, 32, 32), 8 groups",
                dict(num_groups=8, num_channels=64),
                inputs=randn(32, 64, 32, 32),
            ),
        ),
    ),
    (
        "nn.InstanceNorm1d",
        dict(
            inputs=_shifted(4, 3, 7),
            cases=(
                Case("default", dict(num_features=3)),
                Case("affine", dict(num_features=3, affine=True)),
                Case("running stats", dict(num_features=3, track_running_stats=True)),
                Case(
                    "running stats, momentum None",
                    dict(num_features=3, track_running_stats=True, momentum=None),
                ),
                Case(
                    "unbatched (C, L)", dict(num_features=3, affine=True), inputs=_shifted(3, 7)
                ),
            ),
        ),
    ),
    (
        "nn.InstanceNorm2d",
        dict(
            inputs=_shifted(2, 3, 4, 5),
            cases=(
                Case("default", dict(num_features=3)),
                Case("affine, bias False", dict(num_features=3, affine=True, bias=False)),
                Case(
                    "running stats, momentum 0.3",
                    dict(num_features=3, track_running_stats=True, momentum=0.3),
                ),
                Case("unbatched (C, H, W)", dict(num_features=3), inputs=_shifted(3, 4, 5)),
            ),
            bench=Case("(32, 64, 32, 32)", dict(num_features=64), inputs=randn(32, 64, 32, 32)),
        ),
    ),
    (
        "nn.RMSNorm",
        dict(
            inputs=_shifted(4, 6, 5),
            cases=(
                Case("eps None", dict(normalized_shape=5)),
                Case("eps 1e-3", dict(normalized_shape=[5], eps=1e-3)),
                Case("no affine", dict(normalized_shape=5, elementwise_affine=False)),
                Case("shape (6, 5)", dict(normalized_shape=(6, 5))),
            ),
            bench=Case(
                "(64, 256, 512)", dict(normalized_shape=512), inputs=randn(64, 256, 512)
            ),
        ),
    ),
    page=NORM_PAGE,
    inputs=None,
)
# --8<-- [end:norm_entries]


# --- dropout ----------------------------------------------------------------------------------
class DropConnectFormula(torch.nn.Module):
    """Reference DropConnect: ``torch.nn.Linear`` with weight ``W ⊙ M / (1 − p)``,
    ``M ~ Bernoulli(1 − p)`` drawn by ``bernoulli_`` on a tensor of the weight's shape."""

    def __init__(self, in_features, out_features, p=0.5, bias=True):
        super().__init__()
        self.module = torch.nn.Linear(in_features, out_features, bias=bias)
        self.p = p

    def forward(self, input):
        weight = self.module.weight
        if self.training and self.p > 0:
            mask = torch.empty_like(weight).bernoulli_(1 - self.p)
            weight = weight * mask / (1 - self.p)
        return torch.nn.functional.linear(input, weight, self.module.bias)


def _drop_connect(in_features, out_features, p=0.5, bias=True):
    return byhand.nn.DropConnect(byhand.nn.Linear(in_features, out_features, bias=bias), p)


class DropBlock2dDefinition(torch.nn.Module):
    """Reference DropBlock (``torchvision.ops.drop_block2d`` as its documentation defines it):
    corners ``~ Bernoulli(γ)`` on ``(H − b + 1, W − b + 1)``, padded by ``b // 2``, grown into
    ``b × b`` blocks by a stride-1 max-pool, kept values scaled by ``numel / (ε + kept)``. Odd
    ``b`` only (torchvision's padding gives the wrong shape for even ``b``)."""

    def __init__(self, p, block_size, inplace=False, eps=1e-6):
        super().__init__()
        self.p, self.block_size, self.eps = p, block_size, eps

    def forward(self, input):
        if not self.training or self.p == 0:
            return input
        n, c, h, w = input.shape
        b = self.block_size
        gamma = self.p * h * w / (b**2 * (h - b + 1) * (w - b + 1))
        noise = torch.empty(
            (n, c, h - b + 1, w - b + 1), dtype=input.dtype, device=input.device
        )
        noise.bernoulli_(gamma)
        noise = torch.nn.functional.pad(noise, [b // 2] * 4, value=0)
        noise = torch.nn.functional.max_pool2d(noise, (b, b), stride=(1, 1), padding=b // 2)
        noise = 1 - noise
        return input * noise * (noise.numel() / (self.eps + noise.sum()))


# --8<-- [start:dropout_entries]
_DROPOUT_FORMULA = "x · m / (1 − p), m = bernoulli_(1 − p) on the input's shape"
DROPOUT = (
    _with_fields(
        twin(
            "nn.Dropout",
            inputs=randn(16, 20),
            cases=(
                Case("p 0.5", dict()),
                Case("p 0.2", dict(p=0.2)),
                Case("p 0", dict(p=0.0)),
                Case("p 1", dict(p=1.0)),
                Case(
                    "(N, C, H, W) channels_last", dict(p=0.3), inputs=_channels_last(2, 3, 4, 5)
                ),
            ),
            page=DROPOUT_PAGE,
            bench=Case("(1024, 1024)", dict(p=0.5), inputs=randn(1024, 1024)),
        ),
        device_theirs=DropoutFormula,
        device_reference=_DROPOUT_FORMULA,
    ),
    *family(
        (
            "nn.Dropout1d",
            dict(
                inputs=randn(4, 6, 10),
                cases=(
                    Case("p 0.5", dict()),
                    Case("p 0.3, unbatched (C, L)", dict(p=0.3), inputs=randn(6, 10)),
                ),
            ),
        ),
        (
            "nn.Dropout2d",
            dict(
                inputs=randn(4, 6, 5, 5),
                cases=(
                    Case("p 0.5", dict()),
                    Case("p 0.25", dict(p=0.25)),
                    Case("channels_last", dict(p=0.5), inputs=_channels_last(2, 8, 3, 3)),
                ),
                bench=Case("(32, 64, 32, 32)", dict(p=0.5), inputs=randn(32, 64, 32, 32)),
            ),
        ),
        page=DROPOUT_PAGE,
    ),
    _with_fields(
        ModulePair(
            name="nn.DropConnect",
            reference="torch.nn.Linear with weight W ⊙ M / (1 − p), M = bernoulli_(1 − p)",
            ours=_drop_connect,
            theirs=DropConnectFormula,
            inputs=randn(6, 7),
            page=DROPOUT_PAGE,
            kind="oracle",
            cases=(
                Case("p 0.5", dict(in_features=7, out_features=5)),
                Case("p 0.2, no bias", dict(in_features=7, out_features=5, p=0.2, bias=False)),
                Case(
                    "input (2, 3, 7)",
                    dict(in_features=7, out_features=4),
                    inputs=randn(2, 3, 7),
                ),
            ),
            bench=Case(
                "(512, 1024) → 1024",
                dict(in_features=1024, out_features=1024),
                inputs=randn(512, 1024),
            ),
        )
    ),
    _with_fields(
        ModulePair(
            name="nn.DropBlock2d",
            reference="torchvision.ops.drop_block2d's definition (pad, max-pool, rescale)",
            ours=byhand.nn.DropBlock2d,
            theirs=DropBlock2dDefinition,
            inputs=randn(1, 2, 7, 7),
            page=DROPOUT_PAGE,
            kind="oracle",
            cases=(
                Case("p 0.3, block 3", dict(p=0.3, block_size=3)),
                Case("p 0.5, block 1", dict(p=0.5, block_size=1)),
                Case(
                    "p 0.2, block 5, 9×8",
                    dict(p=0.2, block_size=5),
                    inputs=randn(1, 1, 9, 8),
                ),
            ),
            bench=Case(
                "(32, 64, 32, 32), block 7",
                dict(p=0.1, block_size=7),
                inputs=randn(32, 64, 32, 32),
            ),
        )
    ),
)
# --8<-- [end:dropout_entries]


# --- embedding and reshapes -------------------------------------------------------------------
EMBEDDING = (
    twin(
        "nn.Embedding",
        inputs=_indices(10, 4, 6),
        cases=(
            Case("default", dict(num_embeddings=10, embedding_dim=3)),
            Case(
                "padding_idx 2",
                dict(num_embeddings=10, embedding_dim=3, padding_idx=2),
                inputs=_indices(10, 4, 6, padding=2),
            ),
            Case(
                "padding_idx -1",
                dict(num_embeddings=10, embedding_dim=3, padding_idx=-1),
                inputs=_indices(10, 4, 6, padding=-1),
            ),
            Case("max_norm 1", dict(num_embeddings=10, embedding_dim=3, max_norm=1.0)),
            Case(
                "max_norm 1.5, norm_type 1",
                dict(num_embeddings=10, embedding_dim=3, max_norm=1.5, norm_type=1.0),
            ),
            Case(
                "scale_grad_by_freq",
                dict(num_embeddings=10, embedding_dim=3, scale_grad_by_freq=True),
            ),
        ),
        modes=("train",),
        page=EMBEDDING_PAGE,
        bench=Case(
            "10000×256, (64, 128) indices",
            dict(num_embeddings=10000, embedding_dim=256),
            inputs=_indices(10000, 64, 128),
        ),
    ),
    *family(
        (
            "nn.Identity",
            dict(
                cases=(
                    Case("no arguments", dict()),
                    Case("arguments ignored", dict(unused=3)),
                ),
            ),
        ),
        (
            "nn.Flatten",
            dict(
                cases=(
                    Case("default", dict()),
                    Case("start_dim 0, end_dim 2", dict(start_dim=0, end_dim=2)),
                    Case("start_dim -2", dict(start_dim=-2)),
                    Case("channels_last", dict(), inputs=_channels_last(2, 3, 4, 5)),
                ),
            ),
        ),
        (
            "nn.Unflatten",
            dict(
                inputs=randn(2, 12, 3),
                cases=(
                    Case("dim 1 → (3, 4)", dict(dim=1, unflattened_size=(3, 4))),
                    Case("dim -1 → (1, 3)", dict(dim=-1, unflattened_size=(1, 3))),
                    Case("dim 1 → (2, -1, 2)", dict(dim=1, unflattened_size=[2, -1, 2])),
                ),
            ),
        ),
        inputs=randn(2, 3, 4, 5),
        modes=("train",),
        page=MLP_PAGE,
    ),
)


# --- MLPs and mixture of experts --------------------------------------------------------------
def _torch_twin(cls):
    """The ``torch.nn`` class of the same name as a byhand class (``None`` stays ``None``)."""
    return None if cls is None else getattr(torch.nn, cls.__name__)


def torch_mlp(
    in_channels,
    hidden_channels,
    norm_layer=None,
    activation_layer=byhand.nn.ReLU,
    inplace=None,
    bias=True,
    dropout=0.0,
    dropout_layer=torch.nn.Dropout,
):
    """``torchvision.ops.MLP``'s layers as a ``torch.nn.Sequential`` of ``torch.nn`` modules."""
    params = {} if inplace is None else {"inplace": inplace}
    norm, activation = _torch_twin(norm_layer), _torch_twin(activation_layer)
    layers, in_dim = [], in_channels
    for hidden_dim in hidden_channels[:-1]:
        layers.append(torch.nn.Linear(in_dim, hidden_dim, bias=bias))
        if norm is not None:
            layers.append(norm(hidden_dim))
        layers += [activation(**params), dropout_layer(dropout, **params)]
        in_dim = hidden_dim
    layers += [torch.nn.Linear(in_dim, hidden_channels[-1], bias=bias), dropout_layer(dropout)]
    return torch.nn.Sequential(*layers)


def _torchvision_mlp(**kwargs):
    """``torchvision.ops.MLP`` when installed, else the same layers from ``torch.nn``."""
    try:
        from torchvision.ops import MLP as TorchvisionMLP
    except ImportError:
        return torch_mlp(**kwargs)
    norm, activation = kwargs.pop("norm_layer", None), kwargs.pop("activation_layer", None)
    return TorchvisionMLP(
        **kwargs,
        norm_layer=_torch_twin(norm),
        activation_layer=_torch_twin(activation or byhand.nn.ReLU),
    )


class TorchResidualMLP(torch.nn.Module):
    """``x + Dropout(fc2(act(fc1(norm(x)))))`` from ``torch.nn`` modules, same names."""

    def __init__(
        self,
        dim,
        hidden_dim,
        activation_layer=byhand.nn.ReLU,
        norm_layer=byhand.nn.LayerNorm,
        dropout=0.0,
        bias=True,
        dropout_layer=torch.nn.Dropout,
    ):
        super().__init__()
        self.norm = _torch_twin(norm_layer)(dim)
        self.fc1 = torch.nn.Linear(dim, hidden_dim, bias=bias)
        self.activation = _torch_twin(activation_layer)()
        self.fc2 = torch.nn.Linear(hidden_dim, dim, bias=bias)
        self.dropout = dropout_layer(dropout)

    def forward(self, input):
        return input + self.dropout(self.fc2(self.activation(self.fc1(self.norm(input)))))


class MixtureOfExpertsLoop(torch.nn.Module):
    """Oracle: a loop over examples; for each, the softmax of the gate, its experts in order of
    probability, and the weighted sum of their outputs; the auxiliary loss counted by hand."""

    def __init__(
        self,
        in_features,
        out_features,
        num_experts,
        hidden_features=None,
        top_k=None,
        renormalize=False,
        activation_layer=byhand.nn.ReLU,
        bias=True,
    ):
        super().__init__()
        self.num_experts, self.top_k, self.renormalize = num_experts, top_k, renormalize
        self.gate = torch.nn.Linear(in_features, num_experts, bias=False)

        def expert():
            if hidden_features is None:
                return torch.nn.Linear(in_features, out_features, bias=bias)
            return torch_mlp(
                in_features, [hidden_features, out_features], None, activation_layer, bias=bias
            )

        self.experts = torch.nn.ModuleList(expert() for _ in range(num_experts))

    def forward(self, input, return_aux_loss=False):
        tokens = input.reshape(-1, input.shape[-1])
        outputs, probs_all, counts = [], [], [0] * self.num_experts
        for x in tokens:
            probs = torch.softmax(self.gate(x), dim=-1)
            order = sorted(range(self.num_experts), key=lambda e: -probs[e].detach().item())
            chosen = order if self.top_k is None else order[: self.top_k]
            total = sum(probs[e] for e in chosen) if self.renormalize else 1.0
            outputs.append(sum(probs[e] / total * self.experts[e](x) for e in chosen))
            for e in order[: self.top_k or 1]:
                counts[e] += 1
            probs_all.append(probs)
        output = torch.stack(outputs).reshape(*input.shape[:-1], -1)
        if not return_aux_loss:
            return output
        slots = sum(counts)
        mean_probs = torch.stack(probs_all).mean(0)
        aux = sum(counts[e] / slots * mean_probs[e] for e in range(self.num_experts))
        return output, self.num_experts * aux


def _dropout_layer_formula(factory):
    """``factory`` (a twin builder) with ``DropoutFormula`` in place of ``torch.nn.Dropout``."""
    return lambda **kwargs: factory(**kwargs, dropout_layer=DropoutFormula)


def _moe_inputs(*shape, aux=False):
    def make(g, dtype):
        x = torch.randn(*shape, generator=g, dtype=dtype)
        return Args(x, return_aux_loss=True) if aux else (x,)

    return make


# --8<-- [start:mlp_entries]
MLPS = (
    _with_fields(
        ModulePair(
            name="nn.MLP",
            reference="torchvision.ops.MLP's layers (torch.nn.Sequential twin)",
            ours=byhand.nn.MLP,
            theirs=_torchvision_mlp,
            inputs=randn(8, 6),
            page=MLP_PAGE,
            cases=(
                Case("[16, 4]", dict(in_channels=6, hidden_channels=[16, 4])),
                Case(
                    "BatchNorm1d, Tanh",
                    dict(
                        in_channels=6,
                        hidden_channels=[10, 8, 3],
                        norm_layer=byhand.nn.BatchNorm1d,
                        activation_layer=byhand.nn.Tanh,
                    ),
                ),
                Case(
                    "dropout 0.2, no bias",
                    dict(in_channels=6, hidden_channels=[12, 5], dropout=0.2, bias=False),
                ),
                Case(
                    "LayerNorm, input (2, 3, 6)",
                    dict(in_channels=6, hidden_channels=[7, 2], norm_layer=byhand.nn.LayerNorm),
                    inputs=randn(2, 3, 6),
                ),
            ),
            bench=Case(
                "(512, 1024) → [1024, 256]",
                dict(in_channels=1024, hidden_channels=[1024, 256]),
                inputs=randn(512, 1024),
            ),
        ),
        device_theirs=_dropout_layer_formula(torch_mlp),
        device_reference="torch.nn.Sequential twin, dropout by formula",
    ),
    _with_fields(
        ModulePair(
            name="nn.ResidualMLP",
            reference="x + Dropout(fc2(act(fc1(LayerNorm(x))))) from torch.nn modules",
            ours=byhand.nn.ResidualMLP,
            theirs=TorchResidualMLP,
            inputs=_shifted(8, 6),
            page=MLP_PAGE,
            cases=(
                Case("dim 6, hidden 12", dict(dim=6, hidden_dim=12)),
                Case(
                    "Tanh, RMSNorm, no bias",
                    dict(
                        dim=6,
                        hidden_dim=4,
                        activation_layer=byhand.nn.Tanh,
                        norm_layer=byhand.nn.RMSNorm,
                        bias=False,
                    ),
                ),
                Case(
                    "dropout 0.3, input (2, 4, 6)",
                    dict(dim=6, hidden_dim=8, dropout=0.3),
                    inputs=randn(2, 4, 6),
                ),
            ),
            bench=Case(
                "(4096, 512), hidden 2048",
                dict(dim=512, hidden_dim=2048),
                inputs=randn(4096, 512),
            ),
        ),
        device_theirs=_dropout_layer_formula(TorchResidualMLP),
        device_reference="torch.nn twin, dropout by formula",
    ),
    ModulePair(
        name="nn.MixtureOfExperts",
        reference="a loop over examples and their chosen experts",
        ours=byhand.nn.MixtureOfExperts,
        theirs=MixtureOfExpertsLoop,
        inputs=randn(9, 6),
        page=MLP_PAGE,
        kind="oracle",
        cases=(
            Case("soft gate, 4 experts", dict(in_features=6, out_features=3, num_experts=4)),
            Case("top-1 (Switch)", dict(in_features=6, out_features=3, num_experts=4, top_k=1)),
            Case(
                "top-2, renormalised, hidden 5",
                dict(
                    in_features=6,
                    out_features=3,
                    num_experts=5,
                    top_k=2,
                    renormalize=True,
                    hidden_features=5,
                ),
            ),
            Case(
                "top-2 with aux loss, input (2, 5, 6)",
                dict(in_features=6, out_features=3, num_experts=4, top_k=2),
                inputs=_moe_inputs(2, 5, 6, aux=True),
            ),
            Case(
                "soft gate with aux loss",
                dict(in_features=6, out_features=2, num_experts=3),
                inputs=_moe_inputs(7, 6, aux=True),
            ),
        ),
        modes=("train",),
        # no bench: the oracle is a per-example loop (seconds per call), not a speed reference
    ),
)
# --8<-- [end:mlp_entries]

ENTRIES = (*NORM, *DROPOUT, *EMBEDDING, *MLPS)
