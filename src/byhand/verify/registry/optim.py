"""Registry chapter: optimizers and learning-rate schedules (docs/optim/)."""

from dataclasses import dataclass, field

import torch

import byhand
from byhand.verify.pairs import DEFAULT_TOLERANCE, Case, OptimizerPair, _Comparison, _result


def least_squares(generator, dtype, n=16, d_in=3, d_out=4):
    """A small regression with a non-convex twist: parameters W (d_out, d_in) and b (d_out,)."""
    x = torch.randn(n, d_in, generator=generator, dtype=dtype)
    y = torch.randn(n, d_out, generator=generator, dtype=dtype)
    start = [
        torch.randn(d_out, d_in, generator=generator, dtype=dtype),
        torch.zeros(d_out, dtype=dtype),
    ]

    def loss(params):
        w, b = params
        pred = torch.tanh(x.to(w.device) @ w.T + b)
        return ((pred - y.to(w.device)) ** 2).mean()

    return start, loss


def resnet18_sized(generator, dtype):
    """62 tensors, 11.2 M parameters: ResNet-18's weights (CIFAR-10 stem and head).

    The loss is a dot product with a fixed random direction, so ``backward`` is cheap and every
    parameter gets a dense gradient.
    """
    shapes = [(64, 3, 3, 3), (64,), (64,)]
    widths, c_in = (64, 128, 256, 512), 64
    for stage, width in enumerate(widths):
        for block in range(2):
            first_in = c_in if block == 0 else width
            shapes += [(width, first_in, 3, 3), (width,), (width,)]
            shapes += [(width, width, 3, 3), (width,), (width,)]
            if stage > 0 and block == 0:
                shapes += [(width, c_in, 1, 1), (width,), (width,)]
        c_in = width
    shapes += [(10, 512), (10,)]
    start = [0.01 * torch.randn(s, generator=generator, dtype=dtype) for s in shapes]
    direction = [torch.randn(s, generator=generator, dtype=dtype) for s in shapes]

    def loss(params):
        return sum((p * d.to(p.device)).sum() for p, d in zip(params, direction))

    return start, loss


def two_groups(params):
    w, b = params
    return [{"params": [w]}, {"params": [b], "lr": 0.02, "momentum": 0.5}]


def two_lrs(params):
    """Two parameter groups with different learning rates (the second one 5× smaller)."""
    w, b = params
    return [{"params": [w]}, {"params": [b], "lr": 0.002}]


def both_forms(*cases):
    """Each case twice: vectorised (``foreach=True``) and the loop (``foreach=False``)."""
    out = []
    for case in cases:
        for foreach, form in ((True, "foreach"), (False, "loop")):
            kwargs = {**case.kwargs, "foreach": foreach}
            out.append(Case(f"{case.label}, {form}", kwargs, param_groups=case.param_groups))
    return tuple(out)


def adaptive(name, cases, page, **fields):
    """An ``OptimizerPair`` of ``byhand.optim.<name>`` against ``torch.optim.<name>``."""
    return OptimizerPair(
        name=f"optim.{name}",
        reference=f"torch.optim.{name}",
        ours=getattr(byhand.optim, name),
        theirs=getattr(torch.optim, name),
        problem=least_squares,
        cases=both_forms(*cases),
        steps=20,
        page=page,
        **fields,
    )


# --- oracles: written from the papers, independently of byhand.optim --------------------
class LambFromPaper(torch.optim.Optimizer):
    """You et al. (2020), Algorithm 2, one tensor at a time, quantities named as in the paper.

    Same state keys and group keys as ``byhand.optim.LAMB``, so the two exchange state_dicts.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                 bias_correction=True, *, foreach=None, maximize=False):  # fmt: skip
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, foreach=foreach,
                        maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            (beta1, beta2), lam = group["betas"], group["weight_decay"]
            for x in group["params"]:
                if x.grad is None:
                    continue
                state = self.state[x]
                if not state:
                    state["step"] = torch.tensor(0.0, dtype=torch.float32)
                    if torch.get_default_dtype() == torch.float64:
                        state["step"] = state["step"].double()
                    state["exp_avg"] = torch.zeros_like(x)
                    state["exp_avg_sq"] = torch.zeros_like(x)
                state["step"] += 1
                t = int(state["step"])
                g = -x.grad if group["maximize"] else x.grad
                m = beta1 * state["exp_avg"] + (1 - beta1) * g
                v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
                state["exp_avg"].copy_(m)
                state["exp_avg_sq"].copy_(v)
                if group["bias_correction"]:
                    m, v = m / (1 - beta1**t), v / (1 - beta2**t)
                r = m / (torch.sqrt(v) + group["eps"])
                update = r + lam * x
                x_norm = torch.linalg.vector_norm(x)
                u_norm = torch.linalg.vector_norm(update)
                ratio = x_norm / u_norm if x_norm > 0 and u_norm > 0 else 1.0
                x.copy_(x - group["lr"] * ratio * update)


class LookaheadFromDefinition:
    """Zhang et al. (2019), Algorithm 1: slow weights φ in a list, one per parameter in order;
    every k inner steps φ ← φ + α (θ - φ), θ ← φ. Exposes ``state[p]["slow_param"]`` and the
    state_dict layout of ``byhand.optim.Lookahead``, so the registry compares and swaps them.
    """

    def __init__(self, inner, k=5, alpha=0.5):
        self.inner, self.k, self.alpha, self.count = inner, k, alpha, 0
        self.params = [p for group in inner.param_groups for p in group["params"]]
        self.slow = [p.detach().clone() for p in self.params]

    @property
    def state(self):
        return {p: {"slow_param": phi} for p, phi in zip(self.params, self.slow)}

    def zero_grad(self):
        self.inner.zero_grad()

    def step(self, closure=None):
        loss = self.inner.step(closure)
        self.count += 1
        if self.count % self.k == 0:
            with torch.no_grad():
                for theta, phi in zip(self.params, self.slow):
                    phi.copy_(phi + self.alpha * (theta - phi))
                    theta.copy_(phi)
        return loss

    def state_dict(self):
        return {
            "optimizer": self.inner.state_dict(),
            "slow_params": {i: phi.clone() for i, phi in enumerate(self.slow)},
            "k": self.k,
            "alpha": self.alpha,
            "lookahead_step": self.count,
        }

    def load_state_dict(self, state_dict):
        self.inner.load_state_dict(state_dict["optimizer"])
        self.slow = [state_dict["slow_params"][i].clone() for i in range(len(self.params))]
        self.k, self.alpha = state_dict["k"], state_dict["alpha"]
        self.count = state_dict["lookahead_step"]


def lookahead(library, wrapper):
    """A factory ``(params, inner=..., k=..., alpha=..., **inner_kwargs) -> optimizer``."""

    def build(params, inner="Adam", k=5, alpha=0.5, **inner_kwargs):
        return wrapper(getattr(library, inner)(params, **inner_kwargs), k=k, alpha=alpha)

    return build


# --- schedules ---------------------------------------------------------------------------
def sgd_two_groups(params):
    """SGD with momentum, two parameter groups with learning rates 0.1 and 0.02."""
    w, b = params
    return torch.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.02}], lr=0.1, momentum=0.9)


def adam_two_groups(params):
    w, b = params
    return torch.optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.02}], lr=0.1)


@dataclass(frozen=True)
class SchedulerPair:
    """A hand-written lr schedule and PyTorch's, each driving its own optimizer for ``steps``.

    ``ours(optimizer, **kwargs)`` / ``theirs(optimizer, **kwargs)`` build the schedules; a
    case's ``inputs`` builds the optimizer from two parameters (default: SGD with momentum, two
    groups). After every step the learning rate (and momentum or β1) of every group and
    ``get_last_lr()`` are compared. Half-way each side's state_dict is loaded into a fresh
    schedule of the other kind, the optimizer's groups restored as a checkpoint would.
    """

    name: str
    reference: str
    ours: callable
    theirs: callable
    page: str
    kind: str = "twin"
    cases: tuple = (Case("default"),)
    modes: tuple = ("train",)
    steps: int = 100
    tolerance: dict = field(default_factory=dict)
    bench: Case | None = None

    def ids(self):
        return [(case, mode) for case in self.cases for mode in self.modes]

    def check(self, case, mode, device="cpu", dtype=torch.float64):
        atol, rtol = self.tolerance.get(dtype, DEFAULT_TOLERANCE[dtype])
        cmp = _Comparison(atol, rtol)
        make_optimizer = case.inputs or sgd_two_groups

        def side(factory):
            params = [
                torch.zeros(3, 2, dtype=dtype, device=device, requires_grad=True),
                torch.zeros(2, dtype=dtype, device=device, requires_grad=True),
            ]
            optimizer = make_optimizer(params)
            return optimizer, factory(optimizer, **case.kwargs)

        (opt_ours, ours), (opt_theirs, theirs) = side(self.ours), side(self.theirs)
        self._compare(cmp, opt_ours, ours, opt_theirs, theirs)
        for step in range(1, self.steps + 1):
            for optimizer, schedule in ((opt_ours, ours), (opt_theirs, theirs)):
                optimizer.step()  # no gradients: parameters stay, the schedule sees a step
                schedule.step()
            self._compare(cmp, opt_ours, ours, opt_theirs, theirs)
            if cmp.failures:
                break
            if step == self.steps // 2:
                saved_ours, saved_theirs = ours.state_dict(), theirs.state_dict()
                ours = self._rebuilt(self.ours, opt_ours, case, saved_theirs)
                theirs = self._rebuilt(self.theirs, opt_theirs, case, saved_ours)
        return _result(self, case, mode, device, dtype, cmp, None)

    @staticmethod
    def _rebuilt(factory, optimizer, case, saved):
        """A fresh schedule loading ``saved``; groups restored as from a checkpoint."""
        groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        schedule = factory(optimizer, **case.kwargs)
        for group, kept in zip(optimizer.param_groups, groups):
            group.update(kept)
        schedule.load_state_dict(saved)
        return schedule

    @staticmethod
    def _compare(cmp, opt_ours, ours, opt_theirs, theirs):
        def column(optimizer, key):
            values = [g[key] if key != "betas" else g[key][0] for g in optimizer.param_groups]
            return torch.tensor([float(v) for v in values], dtype=torch.float64)

        cmp.tensors("lr", column(opt_ours, "lr"), column(opt_theirs, "lr"))
        last_ours = torch.tensor([float(v) for v in ours.get_last_lr()], dtype=torch.float64)
        last_theirs = torch.tensor(
            [float(v) for v in theirs.get_last_lr()], dtype=torch.float64
        )
        cmp.tensors("get_last_lr", last_ours, last_theirs)
        for key in ("momentum", "betas"):
            if key in opt_theirs.param_groups[0]:
                cmp.tensors(key, column(opt_ours, key), column(opt_theirs, key))


def schedule(name, cases, **fields):
    """A ``SchedulerPair`` of ``byhand.optim.lr_scheduler.<name>`` and PyTorch's."""
    return SchedulerPair(
        name=f"optim.lr_scheduler.{name}",
        reference=f"torch.optim.lr_scheduler.{name}",
        ours=getattr(byhand.optim.lr_scheduler, name),
        theirs=getattr(torch.optim.lr_scheduler, name),
        cases=cases,
        page="optim/schedules.md",
        **fields,
    )


def sequential(lib):
    """``SequentialLR`` over ``lib``'s schedules: warm-up, steps, then a cosine."""

    def build(optimizer, kind, milestones):
        if kind == "linear, exponential":
            parts = [lib.LinearLR(optimizer, 0.1, 1.0, total_iters=10),
                     lib.ExponentialLR(optimizer, gamma=0.95)]  # fmt: skip
        else:
            parts = [lib.StepLR(optimizer, step_size=5, gamma=0.7),
                     lib.CosineAnnealingLR(optimizer, T_max=30, eta_min=1e-3),
                     lib.LinearLR(optimizer, 1.0, 0.2, total_iters=20)]  # fmt: skip
        return lib.SequentialLR(optimizer, parts, milestones=milestones)

    return build


def torch_warmup_cosine(optimizer, warmup_steps, total_steps, start_factor=0.01, eta_min=0.0):
    """PyTorch's own composition: ``SequentialLR(LinearLR, CosineAnnealingLR)``."""
    lib = torch.optim.lr_scheduler
    warmup = lib.LinearLR(optimizer, start_factor, 1.0, total_iters=warmup_steps)
    cosine = lib.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps, eta_min=eta_min)
    return lib.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])


ADAM_CASES = (
    Case("default", {}),
    Case("lr 0.05, betas (0.8, 0.99), eps 1e-6", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    Case("weight_decay 0.1, amsgrad", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    Case("maximize, weight_decay", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    Case("two param groups", dict(lr=0.01), param_groups=two_lrs),
)
# Both sides vectorised; benchmarks/optim.py also times the loop forms on the same list.
RESNET18_BENCH = Case(
    "ResNet-18 sized, foreach", dict(lr=1e-3, foreach=True), inputs=resnet18_sized
)

ENTRIES = (
    OptimizerPair(
        name="optim.SGD",
        reference="torch.optim.SGD",
        ours=byhand.optim.SGD,
        theirs=torch.optim.SGD,
        problem=least_squares,
        cases=(
            Case("plain", dict(lr=0.1)),
            Case("momentum + dampening", dict(lr=0.05, momentum=0.9, dampening=0.3)),
            Case(
                "nesterov + weight_decay",
                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            ),
            Case(
                "maximize + weight_decay",
                dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True),
            ),
            Case("two param groups", dict(lr=0.1, momentum=0.9), param_groups=two_groups),
        ),
        steps=20,
        page="optim/sgd.md",
        bench=Case(
            "momentum, W (512, 512)",
            dict(lr=0.01, momentum=0.9),
            inputs=lambda g, dtype: least_squares(g, dtype, n=256, d_in=512, d_out=512),
        ),
    ),
    adaptive("Adam", ADAM_CASES, "optim/adaptive.md", bench=RESNET18_BENCH),
    adaptive(
        "AdamW",
        (
            Case("default (weight_decay 0.01)", {}),
            Case("weight_decay 0.3, lr 0.05", dict(lr=0.05, weight_decay=0.3)),
            Case("amsgrad, maximize", dict(lr=0.02, amsgrad=True, maximize=True)),
            Case("two param groups", dict(lr=0.01, weight_decay=0.1), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
        bench=RESNET18_BENCH,  # weight_decay 0.01, decoupled
    ),
    adaptive(
        "NAdam",
        (
            Case("default", {}),
            Case(
                "momentum_decay 0.01, betas (0.8, 0.9)",
                dict(lr=0.01, momentum_decay=0.01, betas=(0.8, 0.9)),
            ),  # fmt: skip
            Case("weight_decay 0.1 (L2)", dict(lr=0.01, weight_decay=0.1)),
            Case(
                "decoupled_weight_decay, maximize",
                dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
            ),  # fmt: skip
            Case("two param groups", dict(lr=0.01), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
    ),
    adaptive(
        "RAdam",
        (
            Case("default", {}),
            Case("beta2 0.9: rectified from step 6", dict(lr=0.01, betas=(0.9, 0.9))),
            Case("weight_decay 0.1 (L2), eps 1e-6", dict(lr=0.01, weight_decay=0.1, eps=1e-6)),
            Case(
                "decoupled_weight_decay, maximize",
                dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
            ),  # fmt: skip
            Case("two param groups", dict(lr=0.01, betas=(0.9, 0.8)), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
    ),
    adaptive(
        "RMSprop",
        (
            Case("default", {}),
            Case("alpha 0.9, weight_decay 0.1", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
            Case("momentum 0.9", dict(lr=0.005, momentum=0.9)),
            Case(
                "centered, momentum, maximize",
                dict(lr=0.005, centered=True, momentum=0.5, maximize=True),
            ),  # fmt: skip
            Case("two param groups", dict(lr=0.01), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
    ),
    adaptive(
        "Adagrad",
        (
            Case("default", {}),
            Case("lr_decay 0.1", dict(lr=0.1, lr_decay=0.1)),
            Case(
                "initial_accumulator_value 0.5, weight_decay 0.1",
                dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1),
            ),  # fmt: skip
            Case("maximize, eps 1e-6", dict(lr=0.05, maximize=True, eps=1e-6)),
            Case("two param groups", dict(lr=0.1), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
    ),
    adaptive(
        "Adadelta",
        (
            Case("default", {}),
            Case("rho 0.5, eps 1e-4", dict(rho=0.5, eps=1e-4)),
            Case("weight_decay 0.1, maximize", dict(lr=0.5, weight_decay=0.1, maximize=True)),
            Case("two param groups", dict(lr=1.0), param_groups=two_lrs),
        ),
        "optim/adaptive.md",
    ),
    OptimizerPair(
        name="optim.LAMB",
        reference="You et al. (2020), Algorithm 2, per tensor",
        kind="oracle",
        ours=byhand.optim.LAMB,
        theirs=LambFromPaper,
        problem=least_squares,
        cases=both_forms(
            Case("default", {}),
            Case("lr 0.05, weight_decay 0.1", dict(lr=0.05, weight_decay=0.1)),
            Case(
                "no bias correction, betas (0.8, 0.9)",
                dict(lr=0.02, bias_correction=False, betas=(0.8, 0.9)),
            ),  # fmt: skip
            Case("maximize, eps 1e-8", dict(lr=0.01, maximize=True, eps=1e-8)),
            Case("two param groups", dict(lr=0.01, weight_decay=0.01), param_groups=two_lrs),
        ),
        steps=20,
        page="optim/lamb.md",
    ),
    OptimizerPair(
        name="optim.Lookahead",
        reference="Zhang et al. (2019), Algorithm 1, around torch.optim",
        kind="oracle",
        ours=lookahead(byhand.optim, byhand.optim.Lookahead),
        theirs=lookahead(torch.optim, LookaheadFromDefinition),
        problem=least_squares,
        cases=(
            Case("Adam, k 5, alpha 0.5", dict(inner="Adam", lr=0.05)),
            Case(
                "SGD momentum, k 3, alpha 0.8",
                dict(inner="SGD", k=3, alpha=0.8, lr=0.1, momentum=0.9),
            ),  # fmt: skip
            Case(
                "RMSprop, k 4, alpha 0.3, two param groups",
                dict(inner="RMSprop", k=4, alpha=0.3, lr=0.01),
                param_groups=two_lrs,
            ),  # fmt: skip
            Case(
                "Adam loop form, k 1, alpha 1 (= Adam)",
                dict(inner="Adam", k=1, alpha=1.0, lr=0.05, foreach=False),
            ),  # fmt: skip
        ),
        steps=20,
        page="optim/lookahead.md",
    ),
    schedule(
        "StepLR",
        (
            Case("step_size 7, gamma 0.5", dict(step_size=7, gamma=0.5)),
            Case("step_size 30", dict(step_size=30)),
        ),  # fmt: skip
    ),
    schedule(
        "MultiStepLR",
        (
            Case(
                "milestones 10, 25, 25, 60; gamma 0.5",
                dict(milestones=[10, 25, 25, 60], gamma=0.5),
            ),
            Case("milestones 30, 80", dict(milestones=[30, 80])),
        ),  # fmt: skip
    ),
    schedule(
        "ExponentialLR",
        (
            Case("gamma 0.97", dict(gamma=0.97)),
            Case("gamma 0.9, Adam", dict(gamma=0.9), inputs=adam_two_groups),
        ),  # fmt: skip
    ),
    schedule(
        "CosineAnnealingLR",
        (
            Case("T_max 100", dict(T_max=100)),
            Case("T_max 30, eta_min 1e-3 (past T_max)", dict(T_max=30, eta_min=1e-3)),
        ),  # fmt: skip
    ),
    schedule(
        "LinearLR",
        (
            Case("default", {}),
            Case("0.1 → 0.5 over 40", dict(start_factor=0.1, end_factor=0.5, total_iters=40)),
        ),  # fmt: skip
    ),
    schedule(
        "OneCycleLR",
        (
            Case("max_lr 0.5, SGD momentum", dict(max_lr=0.5, total_steps=100)),
            Case(
                "per-group max_lr, linear, three_phase, Adam",
                dict(
                    max_lr=[0.3, 0.05],
                    epochs=10,
                    steps_per_epoch=11,
                    anneal_strategy="linear",
                    three_phase=True,
                    pct_start=0.25,
                ),
                inputs=adam_two_groups,
            ),
            Case(
                "cycle_momentum False",
                dict(max_lr=0.2, total_steps=120, cycle_momentum=False, div_factor=10.0),
            ),
        ),  # fmt: skip
    ),
    SchedulerPair(
        name="optim.lr_scheduler.SequentialLR",
        reference="torch.optim.lr_scheduler.SequentialLR",
        ours=sequential(byhand.optim.lr_scheduler),
        theirs=sequential(torch.optim.lr_scheduler),
        cases=(
            Case(
                "LinearLR then ExponentialLR at 10",
                dict(kind="linear, exponential", milestones=[10]),
            ),
            Case(
                "StepLR, CosineAnnealingLR, LinearLR at 20, 60",
                dict(kind="step, cosine, linear", milestones=[20, 60]),
            ),
        ),  # fmt: skip
        page="optim/schedules.md",
    ),
    SchedulerPair(
        name="optim.lr_scheduler.warmup_cosine",
        reference="torch.optim.lr_scheduler.SequentialLR(LinearLR, CosineAnnealingLR)",
        ours=byhand.optim.lr_scheduler.warmup_cosine,
        theirs=torch_warmup_cosine,
        cases=(
            Case("10 warm-up of 100", dict(warmup_steps=10, total_steps=100)),
            Case(
                "5 warm-up of 60, from 0.1, eta_min 1e-3",
                dict(warmup_steps=5, total_steps=60, start_factor=0.1, eta_min=1e-3),
            ),
        ),  # fmt: skip
        page="optim/schedules.md",
    ),
)
