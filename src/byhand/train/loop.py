"""The training loop: one function, ``train(config)``, that a reader can follow top to bottom.

Per step: move the batch to the device (``non_blocking`` from pinned memory), run the model
under autocast, scale the loss (fp16), backward, clip, step the optimizer and the schedule.
Per epoch: reduce the sums across processes, validate, write ``metrics.jsonl``,
``metrics.png`` and the checkpoints. Checkpoints hold everything a run needs to continue
exactly where it stopped, mid-epoch too.
"""

import contextlib
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from byhand.train import amp, checkpoint, distributed, metrics, seed
from byhand.train.device import choose_device
from byhand.train.errors import LossNotFinite, UsageError
from byhand.train.recipes import RECIPES, model_sources
from byhand.train.schedule import warmup_cosine

__all__ = ["TrainConfig", "Interrupted", "train", "train_step", "ResumableSampler"]

CHECKPOINT_FORMAT = "byhand-train-checkpoint-1"


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on; ``None`` takes the recipe's default."""

    recipe: str
    out: str = "runs/train"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    warmup_epochs: float | None = None
    clip_grad_norm: float | None = None
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    resume: str | None = None
    data: str | None = None
    download: bool = False
    workers: int = 0
    threads: int = 0
    impl: str = "byhand"
    sync_bn: bool = False
    checkpoint_every: int = 0


class Interrupted(Exception):
    """Ctrl-C: the step in flight finished, a checkpoint was written, the run stopped."""


class ResumableSampler(torch.utils.data.DistributedSampler):
    """``DistributedSampler`` that can start an epoch after its first ``skip_batches`` batches.

    Each epoch's order is ``randperm`` seeded with ``seed + epoch``; process ``r`` of ``K``
    takes every ``K``-th index from ``r``: K processes with batch ``B/K`` see, step by step,
    exactly the samples one process with batch ``B`` sees.
    """

    def __init__(self, dataset, batch_size, **kwargs):
        super().__init__(dataset, **kwargs)
        self.batch_size = batch_size
        self.skip_batches = 0

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.skip_batches * self.batch_size :])

    def __len__(self):
        return super().__len__() - self.skip_batches * self.batch_size


def _resolve(config):
    """The recipe and the config with its defaults filled in; ``UsageError`` on bad values."""
    if config.recipe not in RECIPES:
        raise UsageError(
            f"unknown recipe {config.recipe!r}; valid recipes: {', '.join(RECIPES)}"
        )
    recipe = RECIPES[config.recipe]
    fields = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "warmup_epochs")
    filled = {f: getattr(recipe, f) for f in fields if getattr(config, f) is None}
    config = dataclasses.replace(config, **filled)
    for name in ("epochs", "batch_size", "lr"):
        if not getattr(config, name) > 0:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} must be positive, got {getattr(config, name)}")
    if config.precision not in amp.PRECISIONS:
        raise UsageError(f"--precision expects one of {', '.join(amp.PRECISIONS)}")
    if config.impl not in ("byhand", "torch"):
        raise UsageError(f"--impl expects byhand or torch, got {config.impl!r}")
    return recipe, config


def _prepare_out(out):
    """Create ``out`` and prove it writable; ``UsageError`` naming it if not."""
    out = Path(out)
    probe = out / ".write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {out} is not a writable folder: {exc.strerror}") from None
    return out


def train(config):
    """Run ``config`` to the end; returns the last epoch's metrics (rank 0's view).

    Raises ``UsageError`` for bad input, ``LossNotFinite`` when the loss diverges and
    ``Interrupted`` after Ctrl-C (with a checkpoint written).
    """
    recipe, config = _resolve(config)
    device = choose_device(config.device)
    run = distributed.setup(device)
    if device.type == "cuda" and run.enabled:
        device = torch.device("cuda", run.local_rank)
        torch.cuda.set_device(device)
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)  # CPU ops' threads; fewer is faster when busy
    try:
        with seed.deterministic() if config.deterministic else contextlib.nullcontext():
            return _train(config, recipe, device, run)
    finally:
        torch.set_num_threads(threads)
        distributed.teardown(run)


# --8<-- [start:train_step]
def train_step(model, loss_fn, optimizer, scaler, scheduler, images, labels, context):
    """One optimisation step; returns the batch's mean loss and how many answers were right."""
    with amp.autocast(context.device, context.precision):
        scores = model(images)
        loss = loss_fn(scores, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # fp16: the loss times S, so small gradients stay above 0
    if context.clip_grad_norm:
        scaler.unscale_(optimizer)  # clip the true gradients, not S times them
        torch.nn.utils.clip_grad_norm_(context.parameters, context.clip_grad_norm)
    scaler.step(optimizer)  # fp16: skipped when a gradient is inf or NaN
    scaler.update()
    scheduler.step()
    return loss.detach(), (scores.argmax(dim=1) == labels).sum()


# --8<-- [end:train_step]


@torch.no_grad()
def _evaluate(model, loss_fn, loader, context, run):
    """Summed loss, correct answers and count over this process's share of ``loader``."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=context.device)
    for images, labels in loader:
        images, labels = _to_device(images, labels, context)
        with amp.autocast(context.device, context.precision):
            scores = model(images)
            loss = loss_fn(scores, labels)
        sums += torch.stack(
            [loss.double() * len(labels), (scores.argmax(1) == labels).sum(), _n(labels)]
        )
    model.train()
    loss_sum, correct, count = distributed.sum_across(sums.tolist(), context.device, run)
    return loss_sum / count, correct / count


def _n(labels):
    return torch.tensor(len(labels), dtype=torch.float64, device=labels.device)


def _to_device(images, labels, context):
    images = images.to(context.device, non_blocking=True)
    if context.channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels.to(context.device, non_blocking=True)


def _loader(dataset, batch_size, sampler, config, device, generator):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",  # page-locked memory: host→GPU copies can overlap
        persistent_workers=config.workers > 0,  # keep workers alive between epochs
        worker_init_fn=seed.seed_worker,
        generator=generator,
    )


def _train(config, recipe, device, run):
    out = _prepare_out(config.out) if run.is_main else Path(config.out)
    if config.batch_size % run.world_size:
        raise UsageError(
            f"--batch-size {config.batch_size} is the global batch and must divide evenly "
            f"across {run.world_size} processes"
        )
    per_process_batch = config.batch_size // run.world_size
    train_set, val_set = recipe.datasets(config.data, config.download)

    # The model is built on the CPU right after seeding, so its initial weights depend only on
    # the seed, whatever the device.
    seed.seed_everything(config.seed)
    raw_model = recipe.build(config.impl)
    if config.sync_bn and run.enabled:
        raw_model = distributed.convert_sync_batchnorm(raw_model, device)
    raw_model = raw_model.to(device)
    if config.channels_last:
        raw_model = raw_model.to(memory_format=torch.channels_last)
    model = distributed.wrap(raw_model, device, run)
    if config.compile:
        model = torch.compile(model)
    loss_fn = recipe.loss(config.impl)
    optimizer = recipe.optimizer(
        config.impl, raw_model.parameters(), config.lr, config.momentum, config.weight_decay
    )
    sampler = ResumableSampler(
        train_set,
        per_process_batch,
        num_replicas=run.world_size,
        rank=run.rank,
        shuffle=True,
        seed=config.seed,
    )
    steps_per_epoch = math.ceil(len(sampler) / per_process_batch)
    total_steps = config.epochs * steps_per_epoch
    scheduler = warmup_cosine(
        optimizer, total_steps, round(config.warmup_epochs * steps_per_epoch)
    )
    scaler = amp.make_scaler(device, config.precision)
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = _loader(train_set, per_process_batch, sampler, config, device, generator)
    val_share = torch.utils.data.Subset(val_set, range(run.rank, len(val_set), run.world_size))
    val_loader = _loader(val_share, per_process_batch, None, config, device, None)
    context = _Context(device, config.precision, config.channels_last, config.clip_grad_norm)
    context.parameters = list(raw_model.parameters())

    state = {
        "epoch": 0,
        "step": 0,
        "sums": torch.zeros(3, dtype=torch.float64),
        "history": [],
        "best_val_acc": -1.0,
    }
    if config.resume:
        _resume(config, raw_model, optimizer, scheduler, scaler, state)
    if run.is_main:
        sources = model_sources(raw_model, loss_fn)
        sources[type(optimizer).__name__] = type(optimizer).__module__
        settings = dict(dataclasses.asdict(config), world_size=run.world_size)
        settings.update(device_used=str(device), torch=torch.__version__, blocks=sources)
        (out / "config.json").write_text(json.dumps(settings, indent=2) + "\n")
        metrics.write_jsonl(state["history"], out / "metrics.jsonl")

    def save(name):
        if run.is_main:
            blob = {
                "format": CHECKPOINT_FORMAT,
                "recipe": config.recipe,
                "epoch": state["epoch"],
                "step": state["step"],
                "sums": state["sums"].cpu(),
                "history": state["history"],
                "best_val_acc": state["best_val_acc"],
                "model": raw_model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": seed.rng_states(),
                "sampler": {"seed": sampler.seed, "epoch": state["epoch"]},
            }
            checkpoint.save_atomic(blob, out / name)
        if run.enabled:
            torch.distributed.barrier()

    stop = _CtrlC(install=not run.enabled)
    model.train()
    try:
        while state["epoch"] < config.epochs:
            epoch = state["epoch"]
            started = time.perf_counter()
            first_step = state["step"]
            sampler.set_epoch(epoch)
            sampler.skip_batches = first_step
            sums = state["sums"].to(device)
            pending = []  # losses not yet checked: checking each one would sync every step
            bar = tqdm(
                total=steps_per_epoch,
                initial=first_step,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                unit="step",
                disable=None if run.is_main else True,  # None: quiet when not a TTY
                file=sys.stdout,
                leave=False,
            )
            for images, labels in train_loader:
                images, labels = _to_device(images, labels, context)
                loss, correct = train_step(
                    model, loss_fn, optimizer, scaler, scheduler, images, labels, context
                )
                sums += torch.stack([loss.double() * len(labels), correct, _n(labels)])
                pending.append(loss)
                state["step"] += 1
                last = state["step"] == steps_per_epoch
                if len(pending) == 16 or last or stop.requested:
                    _check_finite(pending, epoch, state["step"], steps_per_epoch, config.lr)
                    seen = (state["step"] - first_step) * config.batch_size
                    rate = seen / (time.perf_counter() - started)
                    bar.set_postfix(loss=f"{pending[-1].item():.4f}", samples_s=f"{rate:.0f}")
                    pending = []
                bar.update(1)
                state["sums"] = sums
                if stop.requested:
                    save("checkpoint-last.pt")
                    raise Interrupted(
                        f"interrupted at epoch {epoch + 1}, step {state['step']}; "
                        f"{out / 'checkpoint-last.pt'} written, continue with --resume"
                    )
                every = config.checkpoint_every
                if every and state["step"] % every == 0 and not last:
                    save("checkpoint-last.pt")
            bar.close()

            seconds = time.perf_counter() - started
            loss_sum, correct, count = distributed.sum_across(sums.tolist(), device, run)
            val_loss, val_acc = _evaluate(model, loss_fn, val_loader, context, run)
            record = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / count,
                "train_acc": correct / count,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": scheduler.get_last_lr()[0],
                "seconds": round(seconds, 3),
                "samples_per_s": round(
                    (state["step"] - first_step) * config.batch_size / seconds
                ),
            }
            state.update(epoch=epoch + 1, step=0, sums=torch.zeros(3, dtype=torch.float64))
            state["history"].append(record)
            improved = val_acc > state["best_val_acc"]
            state["best_val_acc"] = max(val_acc, state["best_val_acc"])
            save("checkpoint-last.pt")
            if improved:
                save("checkpoint-best.pt")
            if run.is_main:
                metrics.write_jsonl(state["history"], out / "metrics.jsonl")
                metrics.plot_metrics(state["history"], out / "metrics.png")
                print(
                    f"epoch {epoch + 1}/{config.epochs}  train loss {record['train_loss']:.4f}"
                    f"  acc {record['train_acc']:.4f}  val loss {val_loss:.4f}  acc "
                    f"{val_acc:.4f}  {seconds:.1f} s  {record['samples_per_s']} samples/s",
                    flush=True,
                )
            if stop.requested and state["epoch"] < config.epochs:  # Ctrl-C after the steps
                raise Interrupted(
                    f"interrupted after epoch {epoch + 1}; {out / 'checkpoint-last.pt'} "
                    "written, continue with --resume"
                )
        if run.is_main:
            checkpoint.save_atomic(raw_model.state_dict(), out / "model-final.pt")
        return state["history"][-1] if state["history"] else {}
    finally:
        stop.uninstall()


def _resume(config, raw_model, optimizer, scheduler, scaler, state):
    """Load ``config.resume`` (``"last"``: the out folder's checkpoint-last.pt) into the run."""
    path = Path(config.out) / "checkpoint-last.pt" if config.resume == "last" else config.resume
    blob = checkpoint.load_checkpoint(path)
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise checkpoint.CheckpointError(
            f"checkpoint {path} is not a byhand train checkpoint (no format "
            f"{CHECKPOINT_FORMAT!r}); model-final.pt holds weights only and cannot be resumed"
        )
    if blob["recipe"] != config.recipe:
        raise checkpoint.CheckpointError(
            f"checkpoint {path} was written by recipe {blob['recipe']!r}, not {config.recipe!r}"
        )
    try:
        raw_model.load_state_dict(blob["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise checkpoint.CheckpointError(
            f"checkpoint {path} does not fit the {config.recipe} model: {first}"
        ) from None
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    scaler.load_state_dict(blob["scaler"])
    seed.set_rng_states(blob["rng"])
    state.update(
        epoch=blob["epoch"],
        step=blob["step"],
        sums=blob["sums"],
        history=blob["history"],
        best_val_acc=blob["best_val_acc"],
    )


def _check_finite(losses, epoch, step, steps_per_epoch, lr):
    """``LossNotFinite`` naming the first of the last ``len(losses)`` steps gone non-finite."""
    bad = (~torch.isfinite(torch.stack(losses))).nonzero()
    if len(bad):
        at = step - len(losses) + int(bad[0]) + 1
        value = losses[int(bad[0])].item()
        raise LossNotFinite(
            f"the training loss is {value} at epoch {epoch + 1}, step {at} (global step "
            f"{epoch * steps_per_epoch + at}); lower --lr (now {lr}) or set --clip-grad-norm"
        )


@dataclasses.dataclass
class _Context:
    device: torch.device
    precision: str
    channels_last: bool
    clip_grad_norm: float | None
    parameters: list = dataclasses.field(default_factory=list)


class _CtrlC:
    """While installed, Ctrl-C sets ``requested`` and the loop stops after the current step."""

    def __init__(self, install):
        self.requested = False
        self.previous = None
        if install and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def uninstall(self):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
