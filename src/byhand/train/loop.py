"""The training loop as a library: ``fit(model, train_data, val_data, loss=, optimizer=)``.

``fit`` is one call with three parts, each a function a reader can follow alone:

- **setup** (``_setup``): device, processes, the model on the device (channels_last, DDP,
  ``torch.compile``), the data loaders, the optimizer and the schedule;
- **the epoch loop** (``_train_epoch``): per step move the batch to the device, augment it,
  run ``batch_fn`` under autocast, scale the loss (fp16), backward, clip, step the optimizer
  and the schedule; per epoch reduce the sums across processes and validate;
- **checkpointing** (``byhand.train.state``): everything a run needs to continue exactly where
  it stopped, mid-epoch too, every process's random state included.

``byhand train RECIPE`` (``byhand.train.run.train``) builds a recipe's model and data and calls
``fit``; a case study or a reader's own model calls ``fit`` directly.
"""

import contextlib
import contextvars
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from byhand.train import amp, distributed, metrics, state
from byhand.train import seed as seeding
from byhand.train.device import choose_device
from byhand.train.errors import LossNotFinite, UsageError

__all__ = [
    "fit",
    "classify",
    "train_step",
    "evaluate",
    "Interrupted",
    "ResumableSampler",
    "model_sources",
]

# Which names an error message uses for fit's arguments: ``epochs=`` for a Python caller,
# ``--epochs`` when ``byhand train`` is the caller (``run.train`` sets this).
CLI_NAMES = contextvars.ContextVar("CLI_NAMES", default=False)
PLOT_EVERY_S = 30.0  # metrics.png: redrawn at most this often, and after the last epoch


def option(name, value=None):
    """``--name VALUE`` for ``byhand train``, ``name=VALUE`` for a Python caller."""
    if CLI_NAMES.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"
    shown = repr(str(value)) if isinstance(value, Path) else repr(value)
    return f"{name}=" if value is None else f"{name}={shown}"


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


# --8<-- [start:classify]
def classify(model, batch, loss_fn):
    """The default ``batch_fn``: ``batch = (inputs, targets)``, ``scores = model(inputs)``.

    Returns ``(loss, n_correct, n)``: the batch's mean loss (a tensor with a graph), how many
    of its ``n`` samples have their target as the top score.
    """
    inputs, targets = batch
    scores = model(inputs)
    loss = loss_fn(scores, targets)
    return loss, (scores.argmax(dim=1) == targets).sum(), len(targets)


# --8<-- [end:classify]


# --8<-- [start:train_step]
def train_step(model, batch, loss_fn, batch_fn, optimizer, scaler, scheduler, context):
    """One optimisation step; returns the batch's mean loss, its correct answers and size."""
    with amp.autocast(context.device, context.precision):
        loss, correct, count = batch_fn(model, batch, loss_fn)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # fp16: the loss times S, so small gradients stay above 0
    if context.clip_grad_norm:
        scaler.unscale_(optimizer)  # clip the true gradients, not S times them
        torch.nn.utils.clip_grad_norm_(context.parameters, context.clip_grad_norm)
    scaler.step(optimizer)  # fp16: skipped when a gradient is inf or NaN
    scaler.update()
    if scheduler is not None:
        scheduler.step()  # per step, not per epoch
    return loss.detach(), correct, count


# --8<-- [end:train_step]


def fit(
    model,
    train_data,
    val_data=None,
    *,
    loss,
    optimizer,
    scheduler=None,
    epochs,
    batch_size,
    batch_fn=None,
    out=None,
    resume=False,
    overwrite=False,
    device="auto",
    precision="fp32",
    channels_last=False,
    compile=False,
    clip_grad_norm=None,
    seed=0,
    workers=0,
    augment=None,
    progress=True,
    checkpoint_every=0,
    sync_bn=False,
    deterministic=False,
    threads=0,
    collate_fn=None,
    name=None,
    record=None,
):
    """Train ``model`` on ``train_data`` for ``epochs``; returns ``{"history", "final"}``.

    ``history`` holds one dict per epoch (``metrics.METRIC_KEYS``: ``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``seconds``, ``samples_per_s``), ``final``
    the last one. Errors: ``UsageError`` for bad arguments or files, ``LossNotFinite`` when the
    loss becomes NaN or inf, ``Interrupted`` after Ctrl-C (a checkpoint written first).

    - ``train_data`` / ``val_data``: map-style datasets (``len`` and ``[i]``), or a tuple of
      tensors with equal first dimensions (wrapped in a ``TensorDataset``).
    - ``loss``: ``loss(scores, targets)``, e.g. ``nn.CrossEntropyLoss()``; handed to
      ``batch_fn``.
    - ``optimizer``: an optimizer built on ``model.parameters()``, or a factory
      ``params -> optimizer``.
    - ``scheduler``: ``None`` (constant lr), a scheduler, or a factory
      ``(optimizer, steps_per_epoch, epochs) -> scheduler``; stepped after every step.
    - ``batch_fn(model, batch, loss) -> (loss_tensor, n_correct, n)``: how a batch (already on
      the device) becomes a loss; default :func:`classify`, for ``(inputs, targets)`` batches.
      A captioning batch ``(images, tokens)`` returns the token loss, the tokens predicted
      right and the token count; ``train_acc`` is then ``Σ n_correct / Σ n``.
    - ``augment(inputs, generator) -> inputs``: applied to ``batch[0]`` on the device, in
      training only, drawing from ``generator`` (seeded from ``seed`` and the rank, and saved
      in every checkpoint, so a resumed run draws the same crops).
    - ``out``: a folder for ``config.json``, ``metrics.jsonl``, ``metrics.png``,
      ``checkpoint-last.pt``, ``checkpoint-best.pt`` and ``model-final.pt``; ``None`` writes
      nothing. A folder that already holds a run is refused unless ``resume`` or ``overwrite``.
    - ``resume``: ``True`` continues from ``out/checkpoint-last.pt``; a path (a checkpoint, or
      a run folder) from there. Settings that change the maths (``epochs``, ``batch_size``,
      ``seed``, ``precision``, the optimizer's hyper-parameters, ...) must equal the
      checkpoint's; a difference is refused, naming it.
    - ``device``: ``"auto"`` (CUDA, MPS, CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``;
      ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; fp16 adds a grad scaler).
    - Under ``torchrun``: each process takes ``batch_size / K`` of every batch, the model is
      wrapped in ``DistributedDataParallel``, ``sync_bn`` makes batch norm use the global
      batch; only rank 0 prints and writes.
    - ``progress``: a bar on a terminal and one summary line per epoch; ``False`` prints
      nothing.
    - ``name`` is checked on resume (a checkpoint of another run is refused); ``record`` adds
      entries to ``config.json`` (and to the settings resume compares).
    """
    settings = _settings(
        model, loss, optimizer, scheduler, epochs, batch_size, precision, channels_last,
        compile, clip_grad_norm, seed, workers, checkpoint_every, sync_bn, deterministic,
        name, record,
    )  # fmt: skip
    chosen = choose_device(device)
    run = distributed.setup(chosen)
    if chosen.type == "cuda" and run.enabled:
        chosen = torch.device("cuda", run.local_rank)
        torch.cuda.set_device(chosen)
    if sync_bn and not run.enabled:
        raise UsageError(
            f"{'--sync-bn' if CLI_NAMES.get() else 'sync_bn=True'} needs several processes: "
            "start the run with "
            "torchrun --nproc_per_node=K (one process has no other batch to sync with)"
        )
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)  # CPU ops' threads; fewer is faster when busy
    try:
        with seeding.deterministic() if deterministic else contextlib.nullcontext():
            job = _setup(
                model, train_data, val_data, loss, optimizer, scheduler, batch_fn, out,
                resume, overwrite, chosen, run, channels_last, compile, sync_bn, workers,
                augment, collate_fn, settings,
            )  # fmt: skip
            job.progress = progress
            return _fit(job)
    finally:
        torch.set_num_threads(previous_threads)
        distributed.teardown(run)


def _settings(model, loss, optimizer, scheduler, epochs, batch_size, precision, channels_last,
              compile, clip_grad_norm, seed, workers, checkpoint_every, sync_bn, deterministic,
              name, record):  # fmt: skip
    """Check fit's numbers and gather the settings ``config.json`` and resume compare."""
    for key, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UsageError(f"{option(key)} expects a positive integer, got {value!r}")
    if clip_grad_norm is not None and not (
        isinstance(clip_grad_norm, (int, float)) and 0 < clip_grad_norm < math.inf
    ):
        raise UsageError(
            f"{option('clip_grad_norm')} expects a positive finite number, "
            f"got {clip_grad_norm!r}"
        )
    if precision not in amp.PRECISIONS:
        raise UsageError(
            f"{option('precision')} expects one of {', '.join(amp.PRECISIONS)}, "
            f"got {precision!r}"
        )
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"fit expects a torch.nn.Module as model, got {type(model).__name__}")
    if not callable(loss):
        raise UsageError(f"fit expects a callable loss, got {type(loss).__name__}")
    settings = {
        "name": name or type(model).__name__,
        "epochs": epochs,
        "batch_size": batch_size,
        "precision": precision,
        "channels_last": channels_last,
        "compile": compile,
        "clip_grad_norm": clip_grad_norm,
        "seed": seed,
        "workers": workers,
        "checkpoint_every": checkpoint_every,
        "sync_bn": sync_bn,
        "deterministic": deterministic,
        "loss": type(loss).__name__,
    }
    settings.update(record or {})
    return settings


@dataclasses.dataclass
class _Job:
    """What setup made: the run's objects, handed to the epoch loop and the checkpoints."""

    model: torch.nn.Module  # what the loop calls: maybe DDP- and compile-wrapped
    raw_model: torch.nn.Module  # what the checkpoints hold
    loss_fn: object
    batch_fn: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    sampler: ResumableSampler
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader | None
    loader_generator: torch.Generator
    augment: object
    augment_generator: torch.Generator | None
    steps_per_epoch: int
    context: "_Context"
    run: distributed.DistributedRun
    out: Path | None
    settings: dict
    resume_from: Path | None
    progress: bool = True  # the bar (on a terminal) and a line per epoch; False: silent
    plotted: float = -math.inf  # when metrics.png was last drawn


@dataclasses.dataclass
class _Context:
    device: torch.device
    precision: str
    channels_last: bool
    clip_grad_norm: float | None
    parameters: list = dataclasses.field(default_factory=list)


def _dataset(data, what):
    if data is None or isinstance(data, torch.utils.data.Dataset):
        return data
    if isinstance(data, (tuple, list)) and data and all(torch.is_tensor(t) for t in data):
        if len({len(t) for t in data}) != 1:
            sizes = ", ".join(str(tuple(t.shape)) for t in data)
            raise UsageError(f"{what} tensors must share their first dimension, got {sizes}")
        return torch.utils.data.TensorDataset(*data)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return data
    raise UsageError(
        f"{what} expects a dataset (len and [i]) or a tuple of tensors, "
        f"got {type(data).__name__}"
    )


def _check_pairs(dataset, what):
    """For the default ``batch_fn``: ``dataset[0]`` must be ``(inputs, targets)`` that batching
    turns into tensors (tensors, NumPy arrays or numbers); anything else is refused up front
    rather than failing inside the first step."""
    if dataset is None or not hasattr(dataset, "__getitem__") or len(dataset) == 0:
        return
    sample = dataset[0]

    def batchable(item):
        if isinstance(item, (np.ndarray, np.generic)):
            return item.dtype.kind in "biuf"
        return torch.is_tensor(item) or isinstance(item, (int, float))

    if isinstance(sample, (tuple, list)) and len(sample) == 2 and all(map(batchable, sample)):
        return
    if isinstance(sample, (tuple, list)):
        came = f"{type(sample).__name__} of {len(sample)}: "
        came += ", ".join(type(item).__name__ for item in sample)
    else:
        came = type(sample).__name__
    raise UsageError(
        f"{what}[0] should be a pair (inputs, targets) of tensors, NumPy arrays or numbers "
        f"(the default batch_fn, classify), got {came}; convert them (torch.tensor(...)), "
        "or pass a batch_fn (and a collate_fn) that takes such samples"
    )


def _setup(model, train_data, val_data, loss_fn, optimizer, scheduler, batch_fn, out, resume,
           overwrite, device, run, channels_last, compile, sync_bn, workers, augment,
           collate_fn, settings):  # fmt: skip
    """Everything before the first step: folders, data, model, optimizer, schedule, state."""
    train_set = _dataset(train_data, "train_data")
    val_set = _dataset(val_data, "val_data")
    if batch_fn is None and collate_fn is None:
        _check_pairs(train_set, "train_data")
        _check_pairs(val_set, "val_data")
    batch_size = settings["batch_size"]
    if batch_size % run.world_size:
        raise UsageError(
            f"{option('batch_size', batch_size)} is the global batch and must divide evenly "
            f"across {run.world_size} processes"
        )
    resume_from = state.resume_path(out, resume) if resume else None
    if out is None:
        out_dir = None
    else:
        out_dir = _prepare_out(out, bool(resume), overwrite) if run.is_main else Path(out)
    per_process_batch = batch_size // run.world_size

    if sync_bn and run.enabled:
        model = distributed.convert_sync_batchnorm(model, device)
    raw_model = model.to(device)  # the parameters stay the same objects: an optimizer built
    if channels_last:  # on them before this line still holds them
        raw_model = raw_model.to(memory_format=torch.channels_last)
    wrapped = distributed.wrap(raw_model, device, run)
    if compile:
        wrapped = torch.compile(wrapped)
    if not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer(raw_model.parameters())

    sampler = ResumableSampler(
        train_set, per_process_batch, num_replicas=run.world_size, rank=run.rank,
        shuffle=True, seed=settings["seed"],
    )  # fmt: skip
    steps_per_epoch = math.ceil(len(sampler) / per_process_batch)
    if scheduler is not None and not hasattr(scheduler, "state_dict"):
        scheduler = scheduler(optimizer, steps_per_epoch, settings["epochs"])
    generator = torch.Generator()
    train_loader = _loader(
        train_set, per_process_batch, sampler, workers, device, generator, collate_fn
    )
    val_loader = None
    if val_set is not None:
        share = torch.utils.data.Subset(val_set, range(run.rank, len(val_set), run.world_size))
        val_loader = _loader(share, per_process_batch, None, workers, device, None, collate_fn)
    augment_generator = None
    if augment is not None:
        augment_generator = torch.Generator(device)
        augment_generator.manual_seed(settings["seed"] * 65_537 + run.rank)
    context = _Context(device, settings["precision"], channels_last, settings["clip_grad_norm"])
    context.parameters = list(raw_model.parameters())
    optimizer_record = {"type": type(optimizer).__name__}
    optimizer_record.update(
        {k: v for k, v in optimizer.defaults.items() if isinstance(v, (int, float, str, bool))}
    )
    settings.update(
        optimizer=optimizer_record,
        scheduler=type(scheduler).__name__ if scheduler is not None else None,
        world_size=run.world_size,
        device_used=str(device),
        torch=torch.__version__,
        blocks=model_sources(raw_model, loss_fn, optimizer),
    )
    return _Job(
        wrapped, raw_model, loss_fn, batch_fn or classify, optimizer, scheduler,
        amp.make_scaler(device, settings["precision"]), sampler, train_loader, val_loader,
        generator, augment, augment_generator, steps_per_epoch, context, run, out_dir,
        settings, resume_from,
    )  # fmt: skip


def _prepare_out(out, resume, overwrite):
    """Create ``out`` and prove it writable; refuse a folder holding a run unless told."""
    if str(out).strip() == "":
        raise UsageError(f"{option('out')} expects a folder name, got an empty string")
    out = Path(out)
    if not resume and not overwrite:
        held = [name for name in state.RUN_FILES if (out / name).exists()]
        if held:
            raise UsageError(
                f"{option('out', out)} already holds a run ({held[0]}); continue it with "
                f"{option('resume', True if not CLI_NAMES.get() else None)} or replace it "
                f"with {option('overwrite', True if not CLI_NAMES.get() else None)}"
            )
    probe = out / ".write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"{option('out', out)} is not a writable folder: {exc.strerror}"
        ) from None
    return out


def _loader(dataset, batch_size, sampler, workers, device, generator, collate_fn):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",  # page-locked memory: host→GPU copies can overlap
        worker_init_fn=seeding.seed_worker,
        generator=generator,  # re-seeded each epoch: workers' seeds follow (seed, epoch)
        collate_fn=collate_fn,
    )


def model_sources(*objects):
    """``{class name: module it came from}`` for every block inside ``objects`` (PyTorch's
    containers, which hold blocks and compute nothing, are left out)."""
    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
    found = {}
    for thing in objects:
        parts = thing.modules() if isinstance(thing, torch.nn.Module) else [thing]
        for sub in parts:
            if type(sub) not in containers:
                found[type(sub).__name__] = type(sub).__module__
    return dict(sorted(found.items()))


def _fit(job):
    """Resume if asked, then run epochs until ``settings["epochs"]``; checkpoint on the way."""
    # Each process its own random stream (dropout, noise): seed + rank, saved per rank.
    seeding.seed_everything(job.settings["seed"] + job.run.rank)
    progress_state = state.fresh()
    if job.resume_from is not None:
        progress_state = state.restore(job, job.resume_from)
        if job.run.is_main and job.progress:
            print(
                f"resumed from {job.resume_from} at epoch {progress_state['epoch'] + 1}, "
                f"step {progress_state['step']} of {job.steps_per_epoch}",
                flush=True,
            )
    if job.run.is_main and job.out is not None:
        (job.out / "config.json").write_text(json.dumps(job.settings, indent=2) + "\n")
        metrics.write_jsonl(progress_state["history"], job.out / "metrics.jsonl")

    stop = _CtrlC(install=not job.run.enabled)
    job.model.train()
    epochs = job.settings["epochs"]
    try:
        while progress_state["epoch"] < epochs:
            record = _train_epoch(job, progress_state, stop, job.progress)
            _end_epoch(job, progress_state, record)
            if stop.requested and progress_state["epoch"] < epochs:  # Ctrl-C after the steps
                raise Interrupted(
                    f"interrupted after epoch {record['epoch']}; {_last(job)} "
                    "written, continue with --resume"
                )
        if job.run.is_main and job.out is not None:
            state.save_weights(job.raw_model, job.out / "model-final.pt")
        history = progress_state["history"]
        return {"history": history, "final": history[-1] if history else {}}
    finally:
        stop.uninstall()


def _last(job):
    return job.out / "checkpoint-last.pt" if job.out is not None else "no checkpoint (out=None)"


def _to_device(batch, context):
    """Every tensor of ``batch`` on the device; 4-D float tensors channels_last if asked."""
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(item, context) for item in batch)
    if isinstance(batch, dict):
        return {key: _to_device(item, context) for key, item in batch.items()}
    if not torch.is_tensor(batch):
        return batch
    batch = batch.to(context.device, non_blocking=True)
    if context.channels_last and batch.dim() == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)
    return batch


def _augmented(batch, job):
    if job.augment is None:
        return batch
    inputs = job.augment(batch[0], job.augment_generator)
    if job.context.channels_last and inputs.dim() == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return (
        type(batch)((inputs, *batch[1:])) if isinstance(batch, tuple) else [inputs, *batch[1:]]
    )


def _train_epoch(job, progress_state, stop, progress):
    """One epoch (or the rest of one, after a resume); returns the epoch's metrics record."""
    epoch = progress_state["epoch"]
    started = time.perf_counter()
    first_step = progress_state["step"]
    job.sampler.set_epoch(epoch)
    job.sampler.skip_batches = first_step
    job.loader_generator.manual_seed(job.settings["seed"] * 100_003 + epoch)
    sums = progress_state["sums"].to(job.context.device)
    bar = _Bar(job, epoch, first_step, progress)
    pending = []  # losses not yet checked: checking each one would sync every step
    try:
        for batch in job.train_loader:
            batch = _augmented(_to_device(batch, job.context), job)
            loss, correct, count = train_step(
                job.model, batch, job.loss_fn, job.batch_fn, job.optimizer, job.scaler,
                job.scheduler, job.context,
            )  # fmt: skip
            sums += torch.stack([loss.double() * count, _float(correct), _float(count)])
            pending.append(loss)
            progress_state["step"] += 1
            last = progress_state["step"] == job.steps_per_epoch
            if len(pending) == 16 or last or stop.requested or bar.due():
                _check_finite(pending, epoch, progress_state["step"], job)
                samples = (progress_state["step"] - first_step) * job.settings["batch_size"]
                bar.show(pending[-1].item(), samples / (time.perf_counter() - started))
                pending = []
            bar.update()
            progress_state["sums"] = sums
            if stop.requested:
                state.save(job, progress_state, "checkpoint-last.pt")
                bar.close()
                raise Interrupted(
                    f"interrupted at epoch {epoch + 1}, step {progress_state['step']}; "
                    f"{_last(job)} written, continue with --resume"
                )
            every = job.settings["checkpoint_every"]
            if every and progress_state["step"] % every == 0 and not last:
                state.save(job, progress_state, "checkpoint-last.pt")
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    loss_sum, correct, count = distributed.sum_across(
        sums.tolist(), job.context.device, job.run
    )
    val_loss, val_acc = None, None
    if job.val_loader is not None:
        val_loss, val_acc = evaluate(job.model, job.loss_fn, job.batch_fn, job.val_loader, job)
    lr = job.optimizer.param_groups[0]["lr"]
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum / count,
        "train_acc": correct / count,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "lr": lr,
        "seconds": round(seconds, 3),
        "samples_per_s": round(
            (progress_state["step"] - first_step) * job.settings["batch_size"] / seconds
        ),
    }


def _end_epoch(job, progress_state, record):
    """Record the epoch, write the checkpoints and metrics, print the summary line."""
    progress_state.update(
        epoch=record["epoch"], step=0, sums=torch.zeros(3, dtype=torch.float64)
    )
    progress_state["history"].append(record)
    score = record["val_acc"] if record["val_acc"] is not None else record["train_acc"]
    improved = score > progress_state["best_val_acc"]
    progress_state["best_val_acc"] = max(score, progress_state["best_val_acc"])
    state.save(job, progress_state, "checkpoint-last.pt")
    if improved:
        state.save(job, progress_state, "checkpoint-best.pt")
    if job.run.is_main and job.out is not None:
        metrics.write_jsonl(progress_state["history"], job.out / "metrics.jsonl")
        last = record["epoch"] == job.settings["epochs"]
        if last or time.perf_counter() - job.plotted >= PLOT_EVERY_S:  # drawing costs ~0.3 s
            metrics.plot_metrics(progress_state["history"], job.out / "metrics.png")
            job.plotted = time.perf_counter()
    if job.run.is_main and job.progress:
        print(metrics.summary(record, job.settings["epochs"]), flush=True)


def _float(value):
    if torch.is_tensor(value):
        return value.to(torch.float64).reshape(())
    return torch.tensor(float(value), dtype=torch.float64)


@torch.no_grad()
def evaluate(model, loss_fn, batch_fn, loader, job):
    """Mean loss and accuracy over ``loader``, summed across processes."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=job.context.device)
    for batch in loader:
        batch = _to_device(batch, job.context)
        with amp.autocast(job.context.device, job.context.precision):
            loss, correct, count = batch_fn(model, batch, loss_fn)
        sums += torch.stack(
            [
                loss.double() * count,
                _float(correct).to(sums.device),
                _float(count).to(sums.device),
            ]
        )
    model.train()
    loss_sum, correct, count = distributed.sum_across(
        sums.tolist(), job.context.device, job.run
    )
    return loss_sum / count, correct / count


def _check_finite(losses, epoch, step, job):
    """``LossNotFinite`` naming the first of the last ``len(losses)`` steps gone non-finite."""
    bad = (~torch.isfinite(torch.stack(losses))).nonzero()
    if len(bad):
        at = step - len(losses) + int(bad[0]) + 1
        value = losses[int(bad[0])].item()
        lr = max(g.get("initial_lr", g["lr"]) for g in job.optimizer.param_groups)
        raise LossNotFinite(
            f"the training loss is {value} at epoch {epoch + 1}, step {at} (global step "
            f"{epoch * job.steps_per_epoch + at}); lower {option('lr')} (now {lr:g}) or set "
            f"{option('clip_grad_norm')}"
        )


class _Bar:
    """The progress bar: steps, then the loss and samples/s in fixed-width fields.

    The loss is read (a GPU sync) every 16 steps, or sooner once half a second has passed, so
    a slow step still updates the numbers; the fields never change width.
    """

    EVERY_S = 0.5

    def __init__(self, job, epoch, first_step, progress):
        self.shown = time.perf_counter()
        self.bar = tqdm(
            total=job.steps_per_epoch,
            initial=first_step,
            desc=f"epoch {epoch + 1}/{job.settings['epochs']}",
            unit="step",
            disable=(None if progress else True) if job.run.is_main else True,  # None: TTY only
            file=sys.stdout,
            leave=False,
            dynamic_ncols=False,
        )
        self.bar.set_postfix_str(postfix(None, None), refresh=False)

    def due(self):
        return not self.bar.disable and time.perf_counter() - self.shown >= self.EVERY_S

    def show(self, loss, rate):
        self.shown = time.perf_counter()
        self.bar.set_postfix_str(postfix(loss, rate), refresh=False)

    def update(self):
        self.bar.update(1)

    def close(self):
        self.bar.close()  # leave=False: the line is cleared, the next message starts clean


def postfix(loss, rate):
    """``loss    0.1234     1234 samples/s``: the same width whatever the numbers."""
    loss_text = "-" if loss is None else f"{loss:.4g}"
    rate_text = "-" if rate is None else f"{rate:.0f}" if rate < 1e8 else f"{rate:.2e}"
    return f"loss {loss_text:>10}  {rate_text:>8} samples/s"


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
