"""``byhand train`` as a user meets it: each item of issue 19's list, one test each, cheap
(argument checks that stop before training, or the pieces the loop uses).

Every bad input is one line on stderr and exit code 2; nothing is silently different from
what ``config.json`` records.
"""

import io
import os
import signal

import pytest
import torch

import byhand.train.loop as loop
from byhand.cli import main
from byhand.train import UsageError, state
from byhand.train.metrics import plot_metrics

FAST = ["--device", "cpu", "--threads", "1"]


def refused(capsys, *args):
    """``byhand train ARGS``: assert exit 2 with one line on stderr; return that line."""
    code = main(["train", *args])
    err = capsys.readouterr().err
    assert code == 2, (args, err)
    assert err.count("\n") == 1 and err.startswith("byhand train: error: "), err
    return err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--momentum", "-1", "--momentum expects a finite number >= 0, got -1.0"),
        ("--weight-decay", "-1", "--weight-decay expects a finite number >= 0, got -1.0"),
        ("--momentum", "nan", "--momentum expects a finite number >= 0, got nan"),
        ("--weight-decay", "inf", "--weight-decay expects a finite number >= 0, got inf"),
        ("--lr", "inf", "--lr expects a finite number > 0, got inf"),
        ("--warmup-epochs", "-5", "--warmup-epochs expects a finite number >= 0, got -5.0"),
        (
            "--warmup-epochs",
            "3",
            "--warmup-epochs 3.0 must be shorter than the run (--epochs 3)",
        ),
        ("--momentum", "fast", "--momentum: expected a number, got 'fast'"),
    ],
)
def test_out_of_range_numbers_are_one_line(capsys, tmp_path, option, value, message):
    err = refused(capsys, "digits-mlp", option, value, "--out", str(tmp_path / "run"), *FAST)
    assert message in err
    assert not (tmp_path / "run").exists()


def test_empty_out_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "--out expects a folder name, got an empty string" in refused(
        capsys, "digits-mlp", "--out", "", *FAST
    )
    assert list(tmp_path.iterdir()) == []


def test_a_fresh_run_into_a_run_folder_is_refused(capsys, tmp_path):
    (tmp_path / "config.json").write_text('{"recipe": "digits-convnet"}')
    err = refused(capsys, "digits-mlp", "--out", str(tmp_path), *FAST)
    assert f"--out {tmp_path} already holds a run (config.json)" in err
    assert "continue it with --resume or replace it with --overwrite" in err
    assert (tmp_path / "config.json").read_text() == '{"recipe": "digits-convnet"}'
    token = loop.CLI_NAMES.set(False)  # fit's own words for a Python caller
    try:
        with pytest.raises(UsageError, match="pass|resume=True or replace it with overwrite"):
            loop._prepare_out(tmp_path, resume=False, overwrite=False)
        assert loop._prepare_out(tmp_path, resume=False, overwrite=True) == tmp_path
    finally:
        loop.CLI_NAMES.reset(token)


def test_resume_with_other_settings_is_refused_naming_them():
    saved = {"lr": 0.1, "batch_size": 32, "epochs": 3, "threads": 1, "device_used": "cpu"}
    now = {"lr": 0.2, "batch_size": 64, "epochs": 3, "threads": 2, "device_used": "cuda:0"}
    assert state._differences(saved, now) == [
        "batch_size 32 (checkpoint) vs 64 (now)",
        "lr 0.1 (checkpoint) vs 0.2 (now)",
    ]  # threads and the device may change: they do not change the maths


def test_resume_dir_takes_its_checkpoint_or_says_what_is_missing(capsys, tmp_path):
    (tmp_path / "checkpoint-last.pt").write_bytes(b"")
    assert state.resume_path(None, str(tmp_path)) == tmp_path / "checkpoint-last.pt"
    empty = tmp_path / "empty"
    empty.mkdir()
    err = refused(capsys, "digits-mlp", "--resume", str(empty), "--out", str(tmp_path / "o"))
    assert f"--resume {empty}: the folder holds no checkpoint-last.pt" in err


def test_download_without_data_and_sync_bn_without_torchrun_are_refused(capsys, tmp_path):
    out = ["--out", str(tmp_path / "run"), *FAST]
    assert "--download needs --data DIR" in refused(capsys, "digits-mlp", "--download", *out)
    err = refused(capsys, "digits-mlp", "--sync-bn", *out)
    assert "--sync-bn needs several processes: start the run with torchrun" in err


def test_under_torchrun_only_rank_0_prints_a_usage_error(capsys, monkeypatch):
    for rank, lines in (("1", 0), ("0", 1)):
        monkeypatch.setenv("RANK", rank)
        assert main(["train", "digits-mlp", "--momentum", "-1", *FAST]) == 2
        assert main(["train", "digits-mlp", "--no-such-option"]) == 2
        assert capsys.readouterr().err.count("\n") == 2 * lines


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_ctrl_c_message_starts_on_its_own_line(tmp_path, monkeypatch):
    screen = Terminal()  # stdout and stderr on one terminal, the bar on
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setattr("sys.stderr", screen)
    calls, real_step = [], loop.train_step

    def interrupt_at_step_3(*args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args)

    monkeypatch.setattr(loop, "train_step", interrupt_at_step_3)
    assert main(["train", "digits-mlp", "--out", str(tmp_path), "--epochs", "1", *FAST]) == 130
    text = screen.getvalue()
    assert "epoch 1/1:" in text  # the bar was drawn
    before = text[: text.index("byhand train: interrupted at epoch 1, step 3")]
    line = before.replace("\r", "\n").rsplit("\n", 1)[-1]
    assert line == "", repr(before[-120:])  # nothing of the bar left on the message's line


def test_progress_fields_keep_their_width_and_update_by_time(monkeypatch):
    widths = {
        len(loop.postfix(loss, rate))
        for loss, rate in [
            (None, None),
            (2.302585, 12.0),
            (0.00012345, 123456.0),
            (float("nan"), 9e9),
        ]
    }
    assert len(widths) == 1, widths

    class Job:
        steps_per_epoch, settings = 10, {"epochs": 1}
        run = type("Run", (), {"is_main": True})()

    monkeypatch.setattr("sys.stdout", Terminal())
    bar = loop._Bar(Job(), 0, 0, progress=True)
    assert not bar.bar.disable
    bar.shown -= loop._Bar.EVERY_S  # half a second ago
    assert bar.due()
    bar.show(1.0, 2.0)
    assert not bar.due()
    bar.close()


def test_metrics_png_is_opaque_white(tmp_path):
    import matplotlib.image

    record = dict(epoch=1, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.4, lr=0.1)
    plot_metrics([record, {**record, "epoch": 2, "val_loss": None, "val_acc": None}],
                 tmp_path / "metrics.png")  # fmt: skip
    pixels = matplotlib.image.imread(tmp_path / "metrics.png")
    assert pixels.shape[2] == 3 or pixels[..., 3].min() == 1.0  # no transparent pixel
    assert pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0]  # the background is white


def test_verify_help_is_complete(capsys):
    assert main(["verify", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "Runs every registry check on this machine and prints a table (or JSON). Exit code 1 if any fails."
        in text
    )


def test_every_recipe_builds_and_names_its_blocks():
    from byhand.train import RECIPES
    from byhand.train.loop import model_sources

    for recipe in RECIPES.values():
        for impl in ("byhand", "torch"):
            sources = model_sources(recipe.build(impl), recipe.make_loss(impl))
            sources = {k: v for k, v in sources.items() if not v.startswith("byhand.models")}
            if impl == "torch":  # a block PyTorch has no twin of (positional encodings) is ours
                sources = {k: v for k, v in sources.items() if hasattr(torch.nn, k)}
            expected = "byhand.nn" if impl == "byhand" else "torch.nn"
            assert all(where.startswith(expected) for name, where in sources.items()), (
                recipe.name,
                impl,
                sources,
            )
