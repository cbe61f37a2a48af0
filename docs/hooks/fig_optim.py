"""Figures of the optimizers chapter (docs/optim/), drawn from byhand.optim at build time."""

import matplotlib.pyplot as plt
import torch

import byhand
from byhand.optim import lr_scheduler as schedules

F64 = torch.float64


def _one_thread(draw):
    """Run ``draw`` on one intra-op thread: tiny tensors gain nothing from more, and on a
    shared machine extra threads cost many times the work (measured: 8 ms vs 280 ms a step)."""

    def wrapped():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return draw()
        finally:
            torch.set_num_threads(threads)

    wrapped.__name__, wrapped.__doc__ = draw.__name__, draw.__doc__
    return wrapped


def _path(make_optimizer, loss, start, steps, noise=0.0, seed=0):
    """Run an optimizer from ``start``; the visited points (steps + 1, 2) and loss per step."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.tensor(start, dtype=F64, requires_grad=True)
    optimizer = make_optimizer([w])
    points, losses = [w.detach().clone()], []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(w)
        value.backward()
        if noise:
            w.grad += noise * torch.randn(2, generator=generator, dtype=F64)
        losses.append(value.item())
        optimizer.step()
        points.append(w.detach().clone())
    return torch.stack(points), losses


def _quadratic(w, scales=(1.0, 25.0)):
    """½(s₁ w₁² + s₂ w₂²); ``w`` is a point (2,) or a grid (2, H, W)."""
    return 0.5 * (scales[0] * w[0] ** 2 + scales[1] * w[1] ** 2)


SGD_LR = 0.07
SGD_SETTINGS = [
    ("plain (momentum 0)", {}),
    ("momentum 0.5", {"momentum": 0.5}),
    ("momentum 0.8", {"momentum": 0.8}),
]


def sgd_trajectories():
    """byhand SGD on f(w) = ½(w₁² + 25 w₂²) from (-4, 1.2), lr 0.07, momentum 0, 0.5 and 0.8.
    ηλ₂ = 1.75 > 1, so plain SGD overshoots the steep direction on every step."""
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    g1, g2 = torch.meshgrid(
        torch.linspace(-4.5, 1.5, 200), torch.linspace(-1.6, 1.6, 200), indexing="xy"
    )
    ax.contour(g1, g2, 0.5 * (g1**2 + 25 * g2**2), levels=12, colors="0.6", linewidths=0.6)
    for index, (name, kwargs) in enumerate(SGD_SETTINGS):
        path, losses = _path(
            lambda p, kw=kwargs: byhand.optim.SGD(p, lr=SGD_LR, **kw),
            _quadratic,
            [-4.0, 1.2],
            40,
        )
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color=f"C{index}", label=name)
        ax_loss.semilogy(losses, color=f"C{index}", label=name)
    ax.plot([0], [0], "*", ms=10, color="C3")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title(f"path on f(w) = ½(w₁² + 25 w₂²), lr {SGD_LR}")
    ax.legend(frameon=False, fontsize=8)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f(w)")
    ax_loss.set_title("loss per step")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _rosenbrock(w):
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _narrow_quadratic(w):
    return _quadratic(w, (1.0, 50.0))


# name, optimizer factory; learning rates picked per optimizer, the same on both problems
COMPARED = [
    ("SGD m 0.9, lr 2e-4", lambda p: byhand.optim.SGD(p, lr=2e-4, momentum=0.9)),
    ("Adagrad, lr 0.5", lambda p: byhand.optim.Adagrad(p, lr=0.5)),
    ("RMSprop, lr 0.01", lambda p: byhand.optim.RMSprop(p, lr=0.01)),
    ("Adam, lr 0.05", lambda p: byhand.optim.Adam(p, lr=0.05)),
    ("NAdam, lr 0.05", lambda p: byhand.optim.NAdam(p, lr=0.05)),
    ("RAdam, lr 0.05", lambda p: byhand.optim.RAdam(p, lr=0.05)),
    ("Adadelta, lr 1", lambda p: byhand.optim.Adadelta(p, lr=1.0)),
    ("LAMB, lr 0.05", lambda p: byhand.optim.LAMB(p, lr=0.05)),
    (
        "Lookahead(Adam 0.05)",
        lambda p: byhand.optim.Lookahead(byhand.optim.Adam(p, lr=0.05), k=5, alpha=0.5),
    ),
]


def optimizer_trajectories():
    """Every byhand optimizer for 200 steps on Rosenbrock from (-1.5, 2) and on a noisy
    ill-conditioned quadratic ½(w₁² + 50 w₂²) + gradient noise σ = 1, from (-4, 1.5)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.9))
    problems = [
        (
            "Rosenbrock (minimum at (1, 1))",
            _rosenbrock,
            [-1.5, 2.0],
            0.0,
            (-2, 2, -1, 3),
            (1, 1),
        ),
        (
            "noisy quadratic ½(w₁² + 50 w₂²), gradient noise σ = 1",
            _narrow_quadratic,
            [-4.0, 1.5],
            1.0,
            (-4.5, 1.5, -2, 2),
            (0, 0),
        ),
    ]
    for ax, (title, loss, start, noise, box, best) in zip(axes, problems):
        x0, x1, y0, y1 = box
        g1, g2 = torch.meshgrid(
            torch.linspace(x0, x1, 200, dtype=F64),
            torch.linspace(y0, y1, 200, dtype=F64),
            indexing="xy",
        )
        surface = loss(torch.stack([g1, g2]))
        # Faint contours under thick paths: the paths are what the figure is about.
        ax.contour(
            g1, g2, torch.log1p(surface), levels=12, colors="0.5", linewidths=0.4, alpha=0.35
        )
        for index, (name, make) in enumerate(COMPARED):
            path, _ = _path(make, loss, start, 200, noise=noise)
            ax.plot(path[:, 0], path[:, 1], "-", lw=1.6, color=f"C{index}", label=name)
        ax.plot(*best, "*", ms=12, color="C3", zorder=5)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
    # One legend for both panels, below them, where it hides no path.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


EPOCHS, BATCH = 5, 128


def digits_curves():
    """A 64-32-10 MLP on sklearn's digits (1,437 train, 360 held out) under each optimizer,
    mini-batches of 128 for 5 epochs; same initial weights and batch order for all."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[:1437], order[1437:]
    settings = [
        ("SGD m 0.9, lr 0.1", lambda p: byhand.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("Adagrad, lr 0.05", lambda p: byhand.optim.Adagrad(p, lr=0.05)),
        ("RMSprop, lr 3e-3", lambda p: byhand.optim.RMSprop(p, lr=3e-3)),
        ("Adam, lr 1e-2", lambda p: byhand.optim.Adam(p, lr=1e-2)),
        ("AdamW, lr 1e-2", lambda p: byhand.optim.AdamW(p, lr=1e-2)),
        ("NAdam, lr 1e-2", lambda p: byhand.optim.NAdam(p, lr=1e-2)),
        ("RAdam, lr 1e-2", lambda p: byhand.optim.RAdam(p, lr=1e-2)),
        ("Adadelta, lr 1", lambda p: byhand.optim.Adadelta(p, lr=1.0)),
        ("LAMB, lr 0.02", lambda p: byhand.optim.LAMB(p, lr=0.02)),
        (
            "Lookahead(Adam 1e-2)",
            lambda p: byhand.optim.Lookahead(byhand.optim.Adam(p, lr=1e-2)),
        ),
    ]
    fig, (ax, ax_test) = plt.subplots(1, 2, figsize=(11, 4))
    loss_fn = byhand.nn.CrossEntropyLoss()
    for index, (name, make) in enumerate(settings):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            byhand.nn.Linear(64, 32), byhand.nn.ReLU(), byhand.nn.Linear(32, 10)
        )
        optimizer = make(list(model.parameters()))
        batches = torch.Generator().manual_seed(1)
        losses, test_losses = [], []
        for _ in range(EPOCHS):
            shuffled = train[torch.randperm(len(train), generator=batches)]
            for start in range(0, len(shuffled), BATCH):
                batch = shuffled[start : start + BATCH]
                optimizer.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            with torch.no_grad():
                test_losses.append(loss_fn(model(x[test]), y[test]).item())
        smooth = torch.tensor(losses).unfold(0, 5, 1).mean(1)
        ax.plot(range(5, len(losses) + 1), smooth, color=f"C{index % 10}", lw=1, label=name)
        ax_test.plot(
            range(1, EPOCHS + 1), test_losses, "o-", ms=3, color=f"C{index % 10}", label=name
        )
    ax.set_yscale("log")
    ax.set_xlabel(f"step (batch of {BATCH})")
    ax.set_ylabel("training loss (mean of 5 steps)")
    ax.set_title("digits, 64-32-10 MLP: training loss")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    ax_test.set_yscale("log")
    ax_test.set_xlabel("epoch")
    ax_test.set_ylabel("held-out loss")
    ax_test.set_title("held-out loss after each epoch")
    ax_test.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def schedule_curves():
    """The learning rate of every byhand schedule over 100 steps, base lr 0.1."""
    makers = [
        ("StepLR(step_size=25, gamma=0.5)", lambda o: schedules.StepLR(o, 25, gamma=0.5)),
        (
            "MultiStepLR([30, 60, 80], 0.3)",
            lambda o: schedules.MultiStepLR(o, [30, 60, 80], 0.3),
        ),
        ("ExponentialLR(0.97)", lambda o: schedules.ExponentialLR(o, gamma=0.97)),
        ("CosineAnnealingLR(T_max=100)", lambda o: schedules.CosineAnnealingLR(o, T_max=100)),
        ("LinearLR(0.1, 1.0, 30)", lambda o: schedules.LinearLR(o, 0.1, 1.0, total_iters=30)),
        (
            "OneCycleLR(max_lr=0.1, 100)",
            lambda o: schedules.OneCycleLR(o, 0.1, total_steps=100),
        ),
        ("warmup_cosine(10, 100)", lambda o: schedules.warmup_cosine(o, 10, 100)),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for index, (name, make) in enumerate(makers):
        optimizer = byhand.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        schedule = make(optimizer)
        lrs = [schedule.get_last_lr()[0]]
        for _ in range(100):
            optimizer.step()
            schedule.step()
            lrs.append(schedule.get_last_lr()[0])
        ax = axes[0] if index < 4 else axes[1]
        ax.plot(lrs, color=f"C{index}", label=name)
    for ax, title in zip(axes, ("decay", "warm-up and cycles")):
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def lookahead_path():
    """Lookahead(SGD lr 0.05, k 5, α 0.5) on ½(w₁² + 25 w₂²): fast weights and the slow ones."""
    w = torch.tensor([-4.0, 1.2], dtype=F64, requires_grad=True)
    optimizer = byhand.optim.Lookahead(byhand.optim.SGD([w], lr=0.05), k=5, alpha=0.5)
    fast, slow = [w.detach().clone()], [w.detach().clone()]
    for step in range(1, 41):
        optimizer.zero_grad()
        _quadratic(w).backward()
        optimizer.step()
        fast.append(w.detach().clone())
        if step % 5 == 0:
            slow.append(optimizer.state[w]["slow_param"].clone())
    plain, _ = _path(lambda p: byhand.optim.SGD(p, lr=0.05), _quadratic, [-4.0, 1.2], 40)
    fig, ax = plt.subplots(figsize=(6, 4))
    g1, g2 = torch.meshgrid(
        torch.linspace(-4.5, 1.5, 200), torch.linspace(-1.6, 1.6, 200), indexing="xy"
    )
    ax.contour(g1, g2, 0.5 * (g1**2 + 25 * g2**2), levels=12, colors="0.6", linewidths=0.6)
    fast, slow = torch.stack(fast), torch.stack(slow)
    ax.plot(plain[:, 0], plain[:, 1], "-", lw=0.8, color="C0", alpha=0.6, label="SGD alone")
    ax.plot(fast[:, 0], fast[:, 1], "o-", ms=2, lw=0.8, color="C1", label="fast weights")
    ax.plot(
        slow[:, 0], slow[:, 1], "s-", ms=5, lw=1.5, color="C2", label="slow weights (k = 5)"
    )
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title("Lookahead(SGD lr 0.05, k 5, α 0.5), 40 steps")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def lamb_trust_ratio():
    """LAMB's per-tensor step: ‖Δp‖ / ‖p‖ for tensors of very different gradient scale equals η."""
    torch.manual_seed(0)
    scales = [1e-3, 1e-1, 1.0, 1e2]
    params = [torch.randn(50, dtype=F64, requires_grad=True) for _ in scales]
    optimizers = {
        "Adam, lr 0.01": byhand.optim.Adam(
            [p.detach().clone().requires_grad_() for p in params]
        ),
        "LAMB, lr 0.01": byhand.optim.LAMB(
            [p.detach().clone().requires_grad_() for p in params]
        ),
        "SGD, lr 0.01": byhand.optim.SGD([p.detach().clone().requires_grad_() for p in params]),
    }
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.25
    for index, (name, optimizer) in enumerate(optimizers.items()):
        optimizer.param_groups[0]["lr"] = 0.01
        tensors = optimizer.param_groups[0]["params"]
        before = [p.detach().clone() for p in tensors]
        for p, scale in zip(tensors, scales):
            p.grad = scale * torch.randn(50, dtype=F64)
        optimizer.step()
        relative = [((p - b).norm() / b.norm()).item() for p, b in zip(tensors, before)]
        xs = [i + (index - 1) * width for i in range(len(scales))]
        ax.bar(xs, relative, width, color=f"C{index}", label=name)
    ax.set_xticks(range(len(scales)), [f"grad scale {s:g}" for s in scales], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("‖Δp‖ / ‖p‖ after one step")
    ax.set_title("one step on four tensors (50 weights each)")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


FIGURES = {
    name: _one_thread(draw)
    for name, draw in {
        "sgd-trajectories.png": sgd_trajectories,
        "optimizer-trajectories.png": optimizer_trajectories,
        "optimizer-digits.png": digits_curves,
        "lr-schedules.png": schedule_curves,
        "lookahead-path.png": lookahead_path,
        "lamb-trust-ratio.png": lamb_trust_ratio,
    }.items()
}
