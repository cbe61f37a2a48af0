"""Figures of the training engine page (docs/training/engine.md), from byhand.train at build
time: the recipes' learning-rate schedules and the curves of a small ``fit`` run."""

import matplotlib.pyplot as plt
import torch

import byhand
from byhand.train import RECIPES, TrainConfig, fit
from byhand.train.run import resolve

STEPS_PER_EPOCH = 10  # the shape of a per-step schedule depends only on step / total steps


def recipe_schedules():
    """The lr at every step of each ResNet recipe's schedule (10 steps an epoch), and the loss
    and accuracy per epoch of ``fit`` on a two-feature toy problem."""
    fig, (ax_lr, ax_fit) = plt.subplots(1, 2, figsize=(11, 3.8))
    for index, name in enumerate(n for n in RECIPES if n.startswith("resnet18")):
        recipe, config = resolve(TrainConfig(name))
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
        schedule = recipe.make_scheduler(optimizer, STEPS_PER_EPOCH, config)
        lrs = [schedule.get_last_lr()[0]]
        for _ in range(config.epochs * STEPS_PER_EPOCH - 1):
            optimizer.step()
            schedule.step()
            lrs.append(schedule.get_last_lr()[0])
        epochs = [step / STEPS_PER_EPOCH for step in range(len(lrs))]
        ax_lr.plot(epochs, lrs, color=f"C{index}", label=f"{name} ({config.epochs} epochs)")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("per-step schedules of the ResNet recipes")
    ax_lr.legend(frameon=False, fontsize=8)
    ax_lr.grid(alpha=0.3)

    result = _toy_run()
    epochs = [r["epoch"] for r in result["history"]]
    for key, label, color in (
        ("train_loss", "train loss", "C0"),
        ("val_loss", "val loss", "C1"),
    ):
        ax_fit.plot(epochs, [r[key] for r in result["history"]], color=color, label=label)
    ax_acc = ax_fit.twinx()
    ax_acc.plot(epochs, [r["val_acc"] for r in result["history"]], "--", color="C2",
                label="val accuracy")  # fmt: skip
    ax_acc.set_ylim(0, 1.02)
    ax_acc.set_ylabel("accuracy")
    ax_fit.set_xlabel("epoch")
    ax_fit.set_ylabel("loss")
    ax_fit.set_title("fit on the quadrant problem (the page's example)")
    lines = ax_fit.get_lines() + ax_acc.get_lines()
    labels = [line.get_label() for line in lines]
    ax_fit.legend(lines, labels, frameon=False, fontsize=8, loc="center right")
    ax_fit.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _toy_run():
    """The engine page's first example: two features, class = same sign, a 2-32-2 MLP."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        x = torch.randn(512, 2)
        y = (x[:, 0] * x[:, 1] > 0).long()
        nn = byhand.nn
        model = torch.nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
        return fit(
            model,
            (x[:384], y[:384]),
            (x[384:], y[384:]),
            loss=nn.CrossEntropyLoss(),
            optimizer=byhand.optim.SGD(model.parameters(), lr=0.2, momentum=0.9),
            scheduler=byhand.train.cosine_schedule(warmup_epochs=1),
            epochs=20,
            batch_size=32,
            device="cpu",
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)


FIGURES = {"train-schedules.png": recipe_schedules}
