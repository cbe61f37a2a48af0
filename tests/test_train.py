"""byhand.train and ``byhand train``: the files a run writes, its accuracy, byhand vs torch,
every bad input (one line, exit 2), a diverged loss, Ctrl-C, exact resume after SIGKILL,
a failed save, and torchrun (2 processes, gloo) against one process.

Runs use ``--threads 1``: on a busy 2-core machine, torch's 2 threads per process made a step
25x slower (200 ms against 8 ms).
"""

import contextlib
import gzip
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import byhand.train.loop as loop
from byhand.cli import main
from byhand.data import load_digits_tensors
from byhand.train import RECIPES, amp, checkpoint, cosine_schedule, seed, state

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--device", "cpu", "--threads", "1"]
FILES = [
    "config.json",
    "metrics.jsonl",
    "metrics.png",
    "checkpoint-last.pt",
    "checkpoint-best.pt",
    "model-final.pt",
]


def train(capsys, *args):
    """``byhand train ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(["train", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_metrics(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def child_env():
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"))


def descendants(pid):
    """Every live process below ``pid`` (Linux ``/proc``; elsewhere none are found)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


@contextlib.contextmanager
def process_group(command, **options):
    """``Popen(command)`` in a process group of its own, killed whole on the way out (also on
    a timeout, a failed assertion or Ctrl-C). torchrun starts each worker in a session of its
    own, so they are found by parentage and killed one by one too, after SIGTERM has given
    torchrun a chance to stop them itself."""
    child = subprocess.Popen(command, start_new_session=True, **options)
    try:
        yield child
    finally:
        if child.poll() is None:
            below = descendants(child.pid)
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for pid in [*below, *descendants(child.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the group's id is the child's pid
        child.wait()


def run_in_group(command, timeout, **options):
    """``subprocess.run(command, capture_output=True, text=True)`` in its own process group."""
    with process_group(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       **options) as child:  # fmt: skip
        stdout, stderr = child.communicate(timeout=timeout)
        return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """``byhand train digits-mlp --epochs 3``: the acceptance run, shared by several tests."""
    out = tmp_path_factory.mktemp("mlp")
    assert main(["train", "digits-mlp", "--out", str(out), "--epochs", "3", *FAST]) == 0
    return out


# --- a run ------------------------------------------------------------------------------------
def test_digits_mlp_writes_every_file_and_reaches_95_percent(mlp_run):
    out = mlp_run
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all(list(r) == list(loop.metrics.METRIC_KEYS) for r in rows)
    assert rows[-1]["val_acc"] >= 0.95, rows[-1]
    assert rows[-1]["lr"] == 0.0  # the cosine ends at zero
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "digits-mlp" and config["epochs"] == 3
    assert config["blocks"]["Linear"] == "byhand.nn.linear"
    assert config["blocks"]["SGD"] == "byhand.optim.sgd"
    final = checkpoint.load_checkpoint(out / "model-final.pt")
    assert sorted(final) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_impl_torch_gives_the_same_metrics(mlp_run, tmp_path, capsys):
    ours = mlp_run
    code, out, _ = train(
        capsys, "digits-mlp", "--out", str(tmp_path), "--epochs", "3", "--impl", "torch", *FAST
    )
    assert code == 0
    # Not a terminal: no progress bar, one summary line per epoch.
    assert [line[:10] for line in out.splitlines()] == [
        "epoch 1/3 ",
        "epoch 2/3 ",
        "epoch 3/3 ",
    ]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["blocks"]["Linear"].startswith("torch.nn")
    for mine, theirs in zip(read_metrics(ours), read_metrics(tmp_path), strict=True):
        for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), key
    a = checkpoint.load_checkpoint(ours / "model-final.pt")
    b = checkpoint.load_checkpoint(tmp_path / "model-final.pt")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


def test_list_names_every_recipe_on_one_line(capsys):
    code, out, _ = train(capsys, "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(RECIPES)


# --- bad input: one line on stderr, exit 2 ----------------------------------------------------
class Arbitrary:
    """Not a tensor: ``torch.load(weights_only=True)`` must refuse to rebuild it."""


def bad_checkpoints(mlp_out, tmp):
    """name -> (path to a checkpoint, the message expected when resuming from it)."""
    last = mlp_out / "checkpoint-last.pt"
    truncated = tmp / "truncated.pt"
    truncated.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    garbage = tmp / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    unsafe = tmp / "unsafe.pt"
    torch.save({"format": state.CHECKPOINT_FORMAT, "payload": Arbitrary()}, unsafe)
    blob = torch.load(last, weights_only=True)
    blob["model"]["0.weight"] = torch.zeros(3, 64)
    other_shape = tmp / "other-shape.pt"
    torch.save(blob, other_shape)
    return {
        "truncated": (truncated, "is truncated or corrupt"),
        "garbage": (garbage, "is truncated or corrupt"),
        "unsafe": (unsafe, "refused by torch.load(weights_only=True)"),
        "other architecture": (other_shape, "does not fit the digits-mlp model"),
        "weights only": (mlp_out / "model-final.pt", "is not a byhand train checkpoint"),
        "missing": (tmp / "nothing.pt", "does not exist"),
    }


def test_every_bad_checkpoint_is_one_line_and_exit_2(mlp_run, tmp_path, capsys):
    out = mlp_run
    before = (out / "checkpoint-last.pt").read_bytes()
    for name, (path, message) in bad_checkpoints(out, tmp_path).items():
        code, _, err = train(
            capsys, "digits-mlp", "--out", str(tmp_path / name), "--resume", str(path), *FAST
        )
        assert code == 2, name
        assert err.count("\n") == 1 and message in err and str(path) in err, (name, err)
    assert (out / "checkpoint-last.pt").read_bytes() == before


def test_resume_with_another_lr_or_batch_size_is_refused(mlp_run, tmp_path, capsys):
    last = mlp_run / "checkpoint-last.pt"
    args = ["digits-mlp", "--resume", str(last), "--epochs", "3", *FAST]
    code, _, err = train(
        capsys, *args, "--lr", "0.2", "--batch-size", "64", "--out", str(tmp_path)
    )
    assert code == 2 and err.count("\n") == 1
    assert "batch_size 32 (checkpoint) vs 64 (now); lr 0.1 (checkpoint) vs 0.2 (now)" in err
    assert not (tmp_path / "config.json").exists()


def test_checkpoint_of_another_recipe_is_refused(mlp_run, tmp_path, capsys):
    out = mlp_run
    code, _, err = train(
        capsys,
        "digits-convnet",
        "--out",
        str(tmp_path),
        "--resume",
        str(out / "checkpoint-last.pt"),
        *FAST,
    )
    assert code == 2
    assert "written by recipe 'digits-mlp', not 'digits-convnet'" in err


def bad_inputs(tmp):
    a_file = tmp / "a-file"
    a_file.write_text("")
    empty = tmp / "empty-data"
    empty.mkdir()
    wrong = tmp / "wrong-data"
    wrong.mkdir()
    with gzip.open(wrong / "digits.csv.gz", "wt") as f:
        f.write("1,2,3\n4,5,6\n")
    return [
        (["nope"], "unknown recipe 'nope'; valid recipes: digits-mlp, digits-convnet"),
        ([], "a RECIPE is needed"),
        (["digits-mlp", "--epochs", "0"], "--epochs: expected a positive int, got '0'"),
        (["digits-mlp", "--batch-size", "-4"], "--batch-size: expected a positive int"),
        (["digits-mlp", "--lr", "0"], "--lr: expected a positive float, got '0'"),
        (["digits-mlp", "--lr", "fast"], "--lr: expected a positive float, got 'fast'"),
        (["digits-mlp", "--device", "gpu"], "--device expects auto|cpu|cuda|cuda:N|mps"),
        (["digits-mlp", "--precision", "fp8"], "--precision: invalid choice: 'fp8'"),
        (["digits-mlp", "--impl", "jax"], "--impl: invalid choice: 'jax'"),
        (["digits-mlp", "--out", str(a_file / "run")], "is not a writable folder"),
        (["digits-mlp", "--data", str(empty)], "digits.csv.gz (the UCI digits as CSV, gzip)"),
        (["digits-mlp", "--data", str(empty)], "--download writes it there"),
        (["digits-mlp", "--data", str(wrong)], "expected 65 columns (64 pixels then a label)"),
    ]


def test_every_bad_option_is_one_line_and_exit_2(tmp_path, capsys):
    for args, message in bad_inputs(tmp_path):
        extra = [] if "--device" in args or not args else ["--device", "cpu"]
        code, _, err = train(capsys, *args, *extra)
        assert code == 2, args
        assert err.count("\n") == 1 and message in err, (args, err)
        assert err.startswith("byhand train: error: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_an_error_not_a_cpu_run(tmp_path, capsys):
    code, out, err = train(capsys, "digits-mlp", "--device", "cuda", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert "--device cuda was asked for, but torch.cuda.is_available() is False" in err
    assert not (tmp_path / "config.json").exists()


def test_download_puts_the_file_into_data(tmp_path):
    images, labels = load_digits_tensors(tmp_path / "digits", download=True)
    assert (tmp_path / "digits" / "digits.csv.gz").is_file()
    assert tuple(images.shape) == (1797, 64) and int(labels.max()) == 9


# --- a diverged loss, fp16 overflow, Ctrl-C ----------------------------------------------------
def test_nan_loss_stops_the_run_naming_its_step(tmp_path, capsys, monkeypatch):
    calls, real_step = [], loop.train_step

    def nan_at_step_7(*args):
        loss, correct, count = real_step(*args)
        calls.append(1)
        return (
            (torch.full_like(loss, float("nan")) if len(calls) == 7 else loss),
            correct,
            count,
        )

    monkeypatch.setattr(loop, "train_step", nan_at_step_7)
    code, _, err = train(capsys, "digits-mlp", "--out", str(tmp_path), "--epochs", "1", *FAST)
    assert code == 1
    assert "the training loss is nan at epoch 1, step 7 (global step 7)" in err
    assert not (tmp_path / "model-final.pt").exists()


def test_huge_learning_rate_diverges_with_exit_1(tmp_path, capsys):
    code, _, err = train(
        capsys, "digits-mlp", "--out", str(tmp_path), "--lr", "1e30", "--epochs", "1", *FAST
    )
    assert code == 1
    assert "the training loss is nan at epoch 1, step 2 (global step 2)" in err
    assert "lower --lr (now 1e+30)" in err


def test_fp16_scaler_skips_an_overflow_step_and_halves_its_scale():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = amp.make_scaler(torch.device("cpu"), "fp16")
    scale = scaler.get_scale()
    scaler.scale((weight * torch.tensor([1.0, float("inf"), 1.0])).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    assert torch.equal(weight.detach(), torch.ones(3))  # the step was skipped
    assert scaler.get_scale() == scale / 2
    assert not amp.make_scaler(torch.device("cpu"), "bf16").is_enabled()


def test_ctrl_c_writes_a_checkpoint_and_resume_is_exact(mlp_run, tmp_path, capsys, monkeypatch):
    calls, real_step = [], loop.train_step

    def interrupt_at_step_50(*args):
        calls.append(1)
        if len(calls) == 50:  # epoch 2, step 5: Ctrl-C arrives in the middle of a step
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args)

    monkeypatch.setattr(loop, "train_step", interrupt_at_step_50)
    args = ["digits-mlp", "--out", str(tmp_path), "--epochs", "3", *FAST]
    code, _, err = train(capsys, *args)
    assert code == 130
    assert "interrupted at epoch 2, step 5; " in err and "continue with --resume" in err
    blob = checkpoint.load_checkpoint(tmp_path / "checkpoint-last.pt")
    assert (blob["epoch"], blob["step"]) == (1, 5)
    monkeypatch.undo()
    code, out, _ = train(capsys, *args, "--resume")
    assert code == 0
    assert f"resumed from {tmp_path / 'checkpoint-last.pt'} at epoch 2, step 5 of 45" in out
    reference = mlp_run
    assert (tmp_path / "model-final.pt").read_bytes() == (
        reference / "model-final.pt"
    ).read_bytes()
    for mine, theirs in zip(read_metrics(tmp_path), read_metrics(reference), strict=True):
        assert {k: mine[k] for k in mine if k not in ("seconds", "samples_per_s")} == {
            k: theirs[k] for k in theirs if k not in ("seconds", "samples_per_s")
        }


# --- exact resume after SIGKILL ---------------------------------------------------------------
def test_sigkill_mid_epoch_then_resume_is_bit_for_bit(tmp_path, capsys):
    args = ["digits-convnet", "--deterministic", "--epochs", "2", "--batch-size", "64"]
    args += ["--checkpoint-every", "5", *FAST]
    reference = tmp_path / "uninterrupted"
    assert main(["train", *args, "--out", str(reference)]) == 0
    assert not torch.are_deterministic_algorithms_enabled()  # the run put the setting back

    killed = tmp_path / "killed"
    slow = [sys.executable, str(ROOT / "tests" / "_slow_train.py"), *args, "--out", str(killed)]
    with process_group(
        slow, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as child:
        deadline = time.monotonic() + 120
        position = (0, 0)
        while position < (1, 10) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if (killed / "checkpoint-last.pt").exists():
                blob = checkpoint.load_checkpoint(killed / "checkpoint-last.pt")
                position = (blob["epoch"], blob["step"])
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    assert not (killed / "model-final.pt").exists()
    blob = checkpoint.load_checkpoint(killed / "checkpoint-last.pt")
    assert blob["epoch"] == 1 and blob["step"] > 0  # killed in the middle of the second epoch

    resumed = run_in_group(
        [sys.executable, "-m", "byhand", "train", *args, "--out", str(killed), "--resume"],
        timeout=300,
        env=child_env(),
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "model-final.pt").read_bytes() == (
        reference / "model-final.pt"
    ).read_bytes()


# --- atomic saves -----------------------------------------------------------------------------
def test_a_save_that_fails_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint-last.pt"
    checkpoint.save_atomic({"step": torch.tensor(1)}, path)

    def write_half_then_fail(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save_atomic({"step": torch.tensor(2)}, path)
    monkeypatch.undo()

    def killed_before_rename(src, dst):
        raise KeyboardInterrupt  # what a kill between write and rename leaves behind

    monkeypatch.setattr(checkpoint.os, "replace", killed_before_rename)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic({"step": torch.tensor(3)}, path)
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(path)["step"].item() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-last.pt"]  # no temporary left


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    seed.seed_everything(3)
    checkpoint.save_atomic(seed.rng_states(), tmp_path / "rng.pt")
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed.set_rng_states(checkpoint.load_checkpoint(tmp_path / "rng.pt"))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_cosine_schedule_warms_up_then_decays_to_zero():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = cosine_schedule(warmup_epochs=0.5, start_factor=0.25)(optimizer, 4, 3)
    lrs = []
    for _ in range(12):
        lrs.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert lrs[:3] == pytest.approx([0.25, 0.625, 1.0])  # 2 warm-up steps: 0.25 → 1
    assert lrs[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 10)))
    assert schedule.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)
    plain = cosine_schedule()(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), 2, 2
    )
    assert type(plain).__name__ == "CosineAnnealingLR" and plain.T_max == 4


# --- torchrun: two processes on the CPU (gloo) ------------------------------------------------
def torchrun(out, runs):
    """``torchrun --nproc_per_node=2 tests/_torchrun_train.py OUT NAME:ARGS ...`` (gloo), in a
    process group of its own: the workers die with it on a timeout or an interruption."""
    return run_in_group(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(ROOT / "tests" / "_torchrun_train.py"),
            str(out),
            *(f"{name}:{args}" for name, args in runs.items()),
        ],
        timeout=300,
        env=dict(child_env(), OMP_NUM_THREADS="1"),
    )


@pytest.fixture(scope="module")
def torchrun_runs(tmp_path_factory):
    """Two torchruns of 2 processes: the first SIGKILLs rank 1 in the middle of the run called
    ``killed``, the second resumes it and trains the rest; then the same runs in one process."""
    out = tmp_path_factory.mktemp("torchrun")
    common = "--epochs,1,--threads,1,--device,cpu"
    runs = {
        "usage-error": f"digits-mlp,--momentum,-1,{common}",
        "dropout": f"digits-dropout,{common}",
        "killed": f"digits-dropout,--checkpoint-every,3,{common}",
        "mlp": f"digits-mlp,{common}",
        "convnet-sync-bn": f"digits-convnet,--sync-bn,{common}",
    }
    first = torchrun(out / "two", runs)
    assert first.returncode != 0 and not (out / "two" / "killed" / "model-final.pt").exists()
    second = torchrun(out / "two", runs)
    assert second.returncode == 0, second.stderr[-3000:]
    (out / "stderr.txt").write_text(first.stderr + second.stderr)
    (out / "stdout.txt").write_text(first.stdout + second.stdout)
    for name in ("mlp", "convnet"):
        args = runs[name if name == "mlp" else "convnet-sync-bn"].split(",")
        args = [a for a in args if a != "--sync-bn"]  # one process: nothing to sync
        assert main(["train", *args, "--out", str(out / "one" / name)]) == 0
    return out


def max_difference(a, b):
    a, b = checkpoint.load_checkpoint(a), checkpoint.load_checkpoint(b)
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_torchrun_two_processes_equal_one_process(torchrun_runs):
    one, two = torchrun_runs / "one", torchrun_runs / "two"
    assert max_difference(one / "mlp/model-final.pt", two / "mlp/model-final.pt") < 1e-6
    config = json.loads((two / "mlp/config.json").read_text())
    assert config["world_size"] == 2
    assert read_metrics(one / "mlp")[0]["val_acc"] == read_metrics(two / "mlp")[0]["val_acc"]


def test_sync_batchnorm_matches_one_process(torchrun_runs):
    # One process ignores --sync-bn (nothing to sync). Without it, 2 processes normalising
    # their own halves moved these weights by 0.156 (measured once, not rerun to save time).
    one, two = torchrun_runs / "one", torchrun_runs / "two"
    synced = max_difference(
        one / "convnet/model-final.pt", two / "convnet-sync-bn/model-final.pt"
    )
    assert synced < 1e-5, synced


def test_torchrun_kill_then_resume_restores_every_rank_bitwise(torchrun_runs):
    two = torchrun_runs / "two"
    log = (torchrun_runs / "stderr.txt").read_text()
    assert "exitcode: -9" in log, log[-2000:]  # rank 1 was SIGKILLed
    assert (
        f"resumed from {two / 'killed' / 'checkpoint-last.pt'} at epoch 1, step 6"
        in (torchrun_runs / "stdout.txt").read_text()
    )
    blob = checkpoint.load_checkpoint(two / "killed" / "checkpoint-last.pt")
    ranks = blob["ranks"]
    assert len(ranks) == 2 and not torch.equal(
        ranks[0]["rng"]["torch"], ranks[1]["rng"]["torch"]
    )
    resumed = (two / "killed" / "model-final.pt").read_bytes()
    assert resumed == (two / "dropout" / "model-final.pt").read_bytes()


def test_torchrun_usage_error_is_printed_once_and_sync_bn_does_not_warn(torchrun_runs):
    log = (torchrun_runs / "stderr.txt").read_text()
    assert (torchrun_runs / "two" / "usage-error.code").read_text() == "2"
    assert log.count("byhand train: error: --momentum expects a finite number >= 0") == 1
    assert "FutureWarning" not in log


def _alive(pid):
    """Running (not exited, not a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_an_interrupted_child_takes_its_own_session_grandchildren_with_it(tmp_path):
    """As torchrun's workers: a grandchild in a session of its own outlives a killed child
    unless the cleanup finds it."""
    pidfile = tmp_path / "pid"
    code = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '120'], "
        f"start_new_session=True); open({str(pidfile)!r}, 'w').write(str(p.pid)); "
        "time.sleep(120)"
    )
    with pytest.raises(KeyboardInterrupt):
        with process_group([sys.executable, "-c", code]):
            deadline = time.monotonic() + 60
            while not pidfile.exists() or not pidfile.read_text():
                assert time.monotonic() < deadline, "the child never started its grandchild"
                time.sleep(0.05)
            grandchild = int(pidfile.read_text())
            assert _alive(grandchild)
            raise KeyboardInterrupt  # as Ctrl-C in the middle of a test
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


@pytest.mark.parametrize(
    "sample, came",
    [((["0.5", "1.0"], 1), "tuple of 2: list, int"), ((1.0, 2.0, 1), "tuple of 3: float")],
)
def test_fit_refuses_samples_it_cannot_batch_up_front(sample, came):
    model = torch.nn.Linear(2, 3)
    with pytest.raises(loop.UsageError, match=rf"train_data\[0\] should be a pair .*{came}"):
        loop.fit(
            model, [sample] * 4, loss=torch.nn.CrossEntropyLoss(), epochs=1, batch_size=2,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device="cpu",
            progress=False,
        )  # fmt: skip
