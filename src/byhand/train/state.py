"""What a training checkpoint holds, and how a run is put back from one.

A resumed run reaches the same bits as one never stopped only if the checkpoint holds every
piece of state the remaining steps read: the model (parameters and buffers), the optimizer,
the schedule, the grad scaler, the epoch **and the step within it**, the epoch's running sums,
and every random state — **each process's** under torchrun (Python, NumPy, torch, CUDA and the
augmentation generator), gathered to rank 0, which writes the file.
"""

import json
from pathlib import Path

import torch
import torch.distributed as dist

from byhand.train import checkpoint
from byhand.train import seed as seeding
from byhand.train.errors import UsageError

__all__ = [
    "CHECKPOINT_FORMAT",
    "RUN_FILES",
    "COMPARED",
    "fresh",
    "save",
    "save_weights",
    "resume_path",
    "restore",
]

CHECKPOINT_FORMAT = "byhand-train-checkpoint-2"
# The files a run writes; an out folder holding one of them holds a run.
RUN_FILES = ("config.json", "checkpoint-last.pt", "metrics.jsonl", "model-final.pt")
# Settings that do not change the maths: a resume may change them (and config.json says so).
NOT_COMPARED = frozenset(
    {
        "out",
        "resume",
        "overwrite",
        "device",
        "device_used",
        "workers",
        "threads",
        "checkpoint_every",
        "data",
        "download",
        "world_size",
        "torch",
        "blocks",
        "deterministic",
        "compile",
        "channels_last",
        "progress",
    }
)
COMPARED = "every setting but " + ", ".join(sorted(NOT_COMPARED))


def fresh():
    """The progress of a run that has not started."""
    return {
        "epoch": 0,
        "step": 0,
        "sums": torch.zeros(3, dtype=torch.float64),
        "history": [],
        "best_val_acc": -1.0,
    }


def _rank_state(job):
    """This process's random state: every RNG ``seeding.rng_states`` knows, and augment's."""
    own = {"rng": seeding.rng_states()}
    if job.augment_generator is not None:
        own["augment"] = job.augment_generator.get_state()
    return own


def _every_rank_state(job):
    """Every process's random state, in rank order (only rank 0's list is complete)."""
    own = _rank_state(job)
    if not job.run.enabled:
        return [own]
    gathered = [None] * job.run.world_size
    dist.all_gather_object(gathered, own)
    return gathered


def save(job, progress, name):
    """Write ``out/name`` (rank 0) with everything a resume needs; every process joins."""
    if job.out is None:
        return
    ranks = _every_rank_state(job)  # a collective: every process calls it
    if job.run.is_main:
        blob = {
            "format": CHECKPOINT_FORMAT,
            "name": job.settings["name"],
            "settings": json.loads(json.dumps(job.settings)),
            "epoch": progress["epoch"],
            "step": progress["step"],
            "sums": progress["sums"].cpu(),
            "history": progress["history"],
            "best_val_acc": progress["best_val_acc"],
            "model": job.raw_model.state_dict(),
            "optimizer": job.optimizer.state_dict(),
            "scheduler": job.scheduler.state_dict() if job.scheduler is not None else None,
            "scaler": job.scaler.state_dict(),
            "ranks": ranks,
        }
        checkpoint.save_atomic(blob, job.out / name)
    if job.run.enabled:
        dist.barrier()


def save_weights(model, path):
    """The model's ``state_dict`` alone (what ``model-final.pt`` holds)."""
    checkpoint.save_atomic(model.state_dict(), path)


def resume_path(out, resume):
    """The checkpoint ``resume`` names: ``True``/``"last"`` → ``out/checkpoint-last.pt``; a
    folder → its ``checkpoint-last.pt``; a file → itself."""
    from byhand.train.loop import option

    if resume is True or resume == "last":
        if out is None:
            raise UsageError(f"{option('resume')} needs {option('out')}: where the run is")
        return Path(out) / "checkpoint-last.pt"
    path = Path(resume)
    if path.is_dir():
        inside = path / "checkpoint-last.pt"
        if not inside.is_file():
            raise checkpoint.CheckpointError(
                f"{option('resume', path)}: the folder holds no checkpoint-last.pt (a run "
                "folder written by byhand train / fit, or a checkpoint file, was expected)"
            )
        return inside
    return path


def _differences(saved, now):
    """``"lr 0.1 → 0.2"`` for each compared setting that differs."""
    changed = []
    for key in sorted(set(saved) | set(now)):
        if key in NOT_COMPARED:
            continue
        before, after = saved.get(key), now.get(key)
        if json.dumps(before, sort_keys=True) != json.dumps(after, sort_keys=True):
            changed.append(f"{key} {before} (checkpoint) vs {after} (now)")
    return changed


def restore(job, path):
    """Load the checkpoint at ``path`` into ``job``; returns the run's progress."""
    from byhand.train.loop import option

    blob = checkpoint.load_checkpoint(path)
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise checkpoint.CheckpointError(
            f"checkpoint {path} is not a byhand train checkpoint (no format "
            f"{CHECKPOINT_FORMAT!r}); model-final.pt holds weights only and cannot be resumed"
        )
    name = job.settings["name"]
    if blob["name"] != name:
        raise checkpoint.CheckpointError(
            f"checkpoint {path} was written by recipe {blob['name']!r}, not {name!r}"
        )
    now = json.loads(json.dumps(job.settings))
    changed = _differences(blob["settings"], now)
    if changed:
        raise UsageError(
            f"checkpoint {path} was trained with other settings: {'; '.join(changed)}; "
            f"resume with the checkpoint's settings, or start afresh with {option('overwrite')}"
        )
    try:
        job.raw_model.load_state_dict(blob["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise checkpoint.CheckpointError(
            f"checkpoint {path} does not fit the {name} model: {first}"
        ) from None
    job.optimizer.load_state_dict(blob["optimizer"])
    if job.scheduler is not None:
        job.scheduler.load_state_dict(blob["scheduler"])
    job.scaler.load_state_dict(blob["scaler"])
    ranks = blob["ranks"]
    # The same number of processes: each takes its own state back. Another number (recorded
    # in config.json's world_size): rank r takes saved rank r mod the saved count.
    own = ranks[job.run.rank % len(ranks)]
    seeding.set_rng_states(own["rng"])
    if job.augment_generator is not None and "augment" in own:
        job.augment_generator.set_state(own["augment"])
    return {
        "epoch": blob["epoch"],
        "step": blob["step"],
        "sums": blob["sums"],
        "history": blob["history"],
        "best_val_acc": blob["best_val_acc"],
    }
