"""Registry chapter: losses (docs/losses/)."""

import torch

import byhand
from byhand.verify.pairs import Case, ModulePair, family, twin
from byhand.verify.registry._inputs import pair_of

CLASS_WEIGHT = (0.5, 2.0, 1.0, 0.25, 3.0)


def logits_and_classes(n=6, classes=5, extra=(), ignore=None, every=3):
    """Logits ``(n, classes, *extra)`` and class indices; every ``every``-th target set to
    ``ignore``.
    """

    def make(g, dtype):
        logits = 2 * torch.randn(n, classes, *extra, generator=g, dtype=dtype)
        target = torch.randint(0, classes, (n, *extra), generator=g)
        if ignore is not None:
            target[::every] = ignore
        return logits, target

    return make


def _unbatched(g, dtype):
    return torch.randn(5, generator=g, dtype=dtype), torch.tensor(3)


def _probabilities(g, dtype):
    logits = torch.randn(6, 5, 3, generator=g, dtype=dtype)
    target = torch.softmax(torch.randn(6, 5, 3, generator=g, dtype=dtype), dim=1)
    return logits, target


REDUCTIONS = tuple(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none"))


def _log_probabilities(extra=(), ignore=None):
    make = logits_and_classes(extra=extra, ignore=ignore)

    def log_probabilities(g, dtype):
        logits, target = make(g, dtype)
        return torch.log_softmax(logits, dim=1), target

    return log_probabilities


def _probabilities_and_targets(g, dtype):
    """Probabilities in (0, 1) (some within 1e-3 of the ends) and soft targets in [0, 1]."""
    p = torch.sigmoid(3 * torch.randn(6, 5, generator=g, dtype=dtype))
    p[0, :2] = torch.tensor([1e-3, 1 - 1e-3], dtype=dtype)
    return p, torch.rand(6, 5, generator=g, dtype=dtype).round()


def _logits_and_targets(g, dtype):
    """Logits with ±800 and 0 among them, binary targets."""
    x = 4 * torch.randn(6, 5, generator=g, dtype=dtype)
    x[0, :3] = torch.tensor([800.0, -800.0, 0.0], dtype=dtype)
    return x, torch.rand(6, 5, generator=g, dtype=dtype).round()


def _kl_inputs(g, dtype):
    log_q = torch.log_softmax(torch.randn(4, 5, generator=g, dtype=dtype), dim=1)
    p = torch.softmax(torch.randn(4, 5, generator=g, dtype=dtype), dim=1)
    return log_q, p


def _kl_log_target(g, dtype):
    log_q, p = _kl_inputs(g, dtype)
    return log_q, p.log()


def _residuals(g, dtype):
    """Predictions and targets with residuals on both sides of 1 (and of 0.5, 2), one exactly
    0."""
    target = torch.randn(4, 6, generator=g, dtype=dtype)
    input = target + 3 * torch.randn(4, 6, generator=g, dtype=dtype)
    input[0, 0] = target[0, 0]
    return input, target


def _ranking(g, dtype):
    x1, x2 = torch.randn(2, 8, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (8,), generator=g).to(dtype) * 2 - 1
    return x1, x2, y


def _hinge(g, dtype):
    x = 2 * torch.rand(8, generator=g, dtype=dtype)
    return x, torch.randint(0, 2, (8,), generator=g).to(dtype) * 2 - 1


def _cosine(g, dtype):
    x1, x2 = torch.randn(2, 6, 4, generator=g, dtype=dtype)
    return x1, x2, torch.randint(0, 2, (6,), generator=g).to(dtype) * 2 - 1


def _triplets(g, dtype):
    return tuple(torch.randn(6, 4, generator=g, dtype=dtype) for _ in range(3))


# --- oracles: blocks without a PyTorch twin ------------------------------------------------
class FocalOracle(torch.nn.Module):
    """Focal loss the way torchvision's ``sigmoid_focal_loss`` writes it, over PyTorch's own
    ``binary_cross_entropy_with_logits`` / ``cross_entropy``: ``ce · (1 - p_t)^γ · α_t``."""

    def __init__(self, alpha=None, gamma=2.0, reduction="mean"):
        super().__init__()
        if isinstance(alpha, torch.Tensor):
            self.register_buffer("alpha", alpha)
        else:
            self.alpha = alpha
        self.gamma, self.reduction = gamma, reduction

    def forward(self, input, target):
        if target.is_floating_point():
            ce = torch.nn.functional.binary_cross_entropy_with_logits(
                input, target, reduction="none"
            )
            p = torch.sigmoid(input)
            p_t = p * target + (1 - p) * (1 - target)
            loss = ce * (1 - p_t) ** self.gamma
            if self.alpha is not None:
                loss = (self.alpha * target + (1 - self.alpha) * (1 - target)) * loss
            weight_total = loss.numel()
        else:
            ce = torch.nn.functional.cross_entropy(input, target, reduction="none")
            loss = ce * (1 - torch.exp(-ce)) ** self.gamma
            weight_total = loss.numel()
            if self.alpha is not None:
                loss = self.alpha[target] * loss
                weight_total = self.alpha[target].sum()
        if self.reduction == "mean":
            return loss.sum() / weight_total
        return loss.sum() if self.reduction == "sum" else loss


def _reduced(losses, reduction, shape):
    loss = torch.stack(losses).reshape(shape)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


class QuantileOracle(torch.nn.Module):
    """Pinball loss element by element: ``τ r`` if ``r ≥ 0`` else ``(τ - 1) r``."""

    def __init__(self, quantiles=0.5, reduction="mean"):
        super().__init__()
        self.quantiles, self.reduction = quantiles, reduction

    def forward(self, input, target):
        several = isinstance(self.quantiles, (list, tuple))
        taus = self.quantiles if several else [self.quantiles]
        flat_input = input.reshape(-1, len(taus))
        losses = []
        for row, y in zip(flat_input, target.reshape(-1)):
            for tau, x in zip(taus, row):
                r = y - x
                losses.append(tau * r if r.item() >= 0 else (tau - 1) * r)
        return _reduced(losses, self.reduction, input.shape)


class ContrastiveOracle(torch.nn.Module):
    """Hadsell et al.'s contrastive loss, one pair at a time."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, input1, input2, target):
        losses = []
        for a, b, y in zip(input1, input2, target.tolist()):
            d = torch.sqrt(((a - b) ** 2).sum())
            if y == 1:
                losses.append(0.5 * d**2)
            else:
                losses.append(0.5 * torch.clamp(self.margin - d, min=0) ** 2)
        return _reduced(losses, self.reduction, target.shape)


class TripletMiningOracle(torch.nn.Module):
    """Batch-hard mining with a double loop: every anchor against every other row."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, input, target):
        labels, losses, valid = target.tolist(), [], []
        for i, anchor in enumerate(input):
            positives, negatives = [], []
            for j, other in enumerate(input):
                if j == i:
                    continue
                d = torch.sqrt(((anchor - other) ** 2).sum())
                (positives if labels[j] == labels[i] else negatives).append(d)
            if positives and negatives:
                hardest = max(positives, key=lambda d: d.item()) - min(
                    negatives, key=lambda d: d.item()
                )
                losses.append(torch.clamp(hardest + self.margin, min=0))
                valid.append(True)
            else:
                losses.append(input.sum() * 0)
                valid.append(False)
        loss = torch.stack(losses)
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / max(sum(valid), 1)


class NTXentOracle(torch.nn.Module):
    """NT-Xent with a loop over the 2N rows: ``-log(e^{s_ip/τ} / Σ_{k≠i} e^{s_ik/τ})``."""

    def __init__(self, temperature=0.5, reduction="mean"):
        super().__init__()
        self.temperature, self.reduction = temperature, reduction

    def forward(self, input1, input2):
        z = torch.cat([input1, input2])
        n, losses = len(input1), []
        for i in range(2 * n):
            positive = (i + n) % (2 * n)
            similarity = {
                k: torch.dot(z[i], z[k]) / (z[i].norm() * z[k].norm()) / self.temperature
                for k in range(2 * n)
                if k != i
            }
            denominator = sum(torch.exp(s) for s in similarity.values())
            losses.append(-torch.log(torch.exp(similarity[positive]) / denominator))
        return _reduced(losses, self.reduction, (2 * n,))


def _binary_logits(g, dtype):
    x = 3 * torch.randn(6, 4, generator=g, dtype=dtype)
    return x, torch.rand(6, 4, generator=g, dtype=dtype).round()


def _class_logits(g, dtype):
    return 2 * torch.randn(6, 5, generator=g, dtype=dtype), torch.randint(
        0, 5, (6,), generator=g
    )


def _quantile_inputs(q):
    def make(g, dtype):
        target = torch.randn(5, 3, generator=g, dtype=dtype)
        return torch.randn(5, 3, q, generator=g, dtype=dtype), target

    return make


def _pairs(g, dtype):
    x1, x2 = torch.randn(2, 8, 3, generator=g, dtype=dtype)
    return x1, x2, torch.tensor([1, 0, 1, 0, 0, 1, 0, 0])


def _embeddings_and_labels(g, dtype):
    return torch.randn(10, 3, generator=g, dtype=dtype), torch.tensor(
        [0, 1, 2, 0, 1, 2, 0, 1, 3, 0]
    )


def _views(g, dtype):
    return tuple(torch.randn(5, 4, generator=g, dtype=dtype) for _ in range(2))


def oracle(name, theirs, reference, page, **fields):
    """A ``ModulePair`` for a byhand block without a PyTorch twin, against ``theirs``."""
    return ModulePair(
        name=name,
        reference=reference,
        ours=getattr(byhand.nn, name.removeprefix("nn.")),
        theirs=theirs,
        page=page,
        kind="oracle",
        modes=("train",),
        **fields,
    )


ORACLES = (
    oracle(
        "nn.FocalLoss",
        FocalOracle,
        "torchvision's sigmoid_focal_loss formula over torch's BCE-with-logits / cross-entropy",
        "losses/focal.md",
        inputs=_binary_logits,
        cases=(
            Case("binary, alpha 0.25, gamma 2", dict(alpha=0.25, gamma=2.0)),
            Case("binary, no alpha, gamma 0.5, sum", dict(gamma=0.5, reduction="sum")),
            Case("binary, none", dict(alpha=0.75, gamma=1.0, reduction="none")),
            Case("multi-class, gamma 2", dict(gamma=2.0), inputs=_class_logits),
            Case(
                "multi-class, alpha (C,)",
                dict(alpha=torch.tensor(CLASS_WEIGHT), gamma=1.5),
                inputs=_class_logits,
            ),
        ),
    ),
    oracle(
        "nn.QuantileLoss",
        QuantileOracle,
        "element-by-element loop over the pinball definition",
        "losses/regression.md",
        inputs=pair_of(4, 3),
        cases=(
            Case("median", dict(quantiles=0.5)),
            Case("0.9, sum", dict(quantiles=0.9, reduction="sum")),
            Case("0.1, 0.5, 0.9", dict(quantiles=(0.1, 0.5, 0.9)), inputs=_quantile_inputs(3)),
            Case("0.25, none", dict(quantiles=0.25, reduction="none")),
        ),
    ),
    oracle(
        "nn.ContrastiveLoss",
        ContrastiveOracle,
        "loop over the pairs (Hadsell et al., 2006)",
        "losses/metric-learning.md",
        inputs=_pairs,
        cases=(Case("margin 1"), Case("margin 2, sum", dict(margin=2.0, reduction="sum"))),
    ),
    oracle(
        "nn.TripletMiningLoss",
        TripletMiningOracle,
        "double loop over anchors and every other row",
        "losses/metric-learning.md",
        inputs=_embeddings_and_labels,
        cases=(Case("margin 1"), Case("margin 0.3, none", dict(margin=0.3, reduction="none"))),
    ),
    oracle(
        "nn.NTXentLoss",
        NTXentOracle,
        "loop over the 2N rows (Chen et al., 2020)",
        "losses/metric-learning.md",
        inputs=_views,
        cases=(
            Case("temperature 0.5"),
            Case("temperature 0.1, sum", dict(temperature=0.1, reduction="sum")),
        ),
    ),
)


ENTRIES = (
    twin(
        "nn.MSELoss",
        inputs=pair_of(4, 5),
        bench=Case("(1024, 1024)", inputs=pair_of(1024, 1024)),
        cases=tuple(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
        modes=("train",),
        page="losses/mse.md",
    ),
    twin(
        "nn.CrossEntropyLoss",
        inputs=logits_and_classes(),
        bench=Case("(4096, 1000) logits", inputs=logits_and_classes(n=4096, classes=1000)),
        cases=(
            *(Case(r, dict(reduction=r)) for r in ("mean", "sum", "none")),
            Case("weight", dict(weight=torch.tensor(CLASS_WEIGHT))),
            Case("ignore_index", dict(ignore_index=2), inputs=logits_and_classes(ignore=2)),
            Case(
                "weight + ignore_index + label_smoothing",
                dict(weight=torch.tensor(CLASS_WEIGHT), ignore_index=-100, label_smoothing=0.1),
                inputs=logits_and_classes(ignore=-100),
            ),
            # PyTorch: NaN loss (0/0) with a zero gradient, not a NaN one.
            Case(
                "every target ignored",
                dict(ignore_index=-100),
                inputs=logits_and_classes(ignore=-100, every=1),
            ),
            Case("(N, C, d1, d2)", dict(), inputs=logits_and_classes(extra=(3, 2))),
            Case("unbatched (C,)", dict(), inputs=_unbatched),
            Case(
                "probabilities",
                dict(label_smoothing=0.2, weight=torch.tensor(CLASS_WEIGHT)),
                inputs=_probabilities,
            ),
        ),
        modes=("train",),
        page="losses/cross-entropy.md",
    ),
    twin(
        "nn.NLLLoss",
        inputs=_log_probabilities(),
        cases=(
            *REDUCTIONS,
            Case(
                "weight + ignore_index",
                dict(weight=torch.tensor(CLASS_WEIGHT), ignore_index=1),
                inputs=_log_probabilities(ignore=1),
            ),
            Case("(N, C, d1, d2)", dict(), inputs=_log_probabilities(extra=(3, 2))),
            Case(
                "every target ignored",
                dict(ignore_index=-100),
                inputs=lambda g, dtype: (
                    torch.log_softmax(torch.randn(3, 5, generator=g, dtype=dtype), 1),
                    torch.full((3,), -100),
                ),
            ),
        ),
        modes=("train",),
        page="losses/classification.md",
    ),
    twin(
        "nn.BCELoss",
        inputs=_probabilities_and_targets,
        cases=(*REDUCTIONS, Case("weight (5,)", dict(weight=torch.tensor(CLASS_WEIGHT)))),
        modes=("train",),
        page="losses/classification.md",
    ),
    twin(
        "nn.BCEWithLogitsLoss",
        inputs=_logits_and_targets,
        cases=(
            *REDUCTIONS,
            Case("weight", dict(weight=torch.tensor(CLASS_WEIGHT))),
            Case("pos_weight", dict(pos_weight=torch.tensor(CLASS_WEIGHT))),
        ),
        modes=("train",),
        page="losses/classification.md",
    ),
    twin(
        "nn.KLDivLoss",
        inputs=_kl_inputs,
        cases=(
            *(Case(r, dict(reduction=r)) for r in ("batchmean", "sum", "none", "mean")),
            Case(
                "log_target",
                dict(reduction="batchmean", log_target=True),
                inputs=_kl_log_target,
            ),
        ),
        modes=("train",),
        page="losses/classification.md",
    ),
    *family(
        ("nn.L1Loss", dict(cases=REDUCTIONS)),
        (
            "nn.SmoothL1Loss",
            dict(
                cases=(
                    *REDUCTIONS,
                    Case("beta 0.5", dict(beta=0.5)),
                    Case("beta 2", dict(beta=2.0)),
                    Case("beta 0 (L1)", dict(beta=0.0)),
                )
            ),
        ),
        (
            "nn.HuberLoss",
            dict(
                cases=(
                    *REDUCTIONS,
                    Case("delta 0.5", dict(delta=0.5)),
                    Case("delta 2", dict(delta=2.0)),
                )
            ),
        ),
        inputs=_residuals,
        modes=("train",),
        bench=Case("(1024, 1024)", inputs=pair_of(1024, 1024)),
        page="losses/regression.md",
    ),
    *family(
        ("nn.MarginRankingLoss", dict(inputs=_ranking)),
        ("nn.HingeEmbeddingLoss", dict(inputs=_hinge)),
        ("nn.CosineEmbeddingLoss", dict(inputs=_cosine)),
        (
            "nn.TripletMarginLoss",
            dict(
                inputs=_triplets,
                cases=(
                    *REDUCTIONS,
                    Case("p 1, margin 0.5", dict(p=1.0, margin=0.5)),
                    Case("swap", dict(swap=True, margin=2.0)),
                    Case("p 3, eps 1e-3", dict(p=3.0, eps=1e-3)),
                ),
            ),
        ),
        cases=(*REDUCTIONS, Case("margin 0.5", dict(margin=0.5))),
        modes=("train",),
        page="losses/metric-learning.md",
    ),
    *ORACLES,
)
