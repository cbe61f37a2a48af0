"""The ``byhand`` command: subcommands with a help line each, ``--version``, usage without
arguments, and every bad option as one line on stderr with exit code 2 (1 means a check failed).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import byhand
import byhand.verify.__main__ as verify_main
from byhand.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_arguments_prints_usage_listing_the_commands(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: byhand [-h] [--version] COMMAND ...")
    for command in ("verify", "train", "bench"):
        assert f"    {command} " in err
    assert "required" not in err


def test_help_gives_each_command_a_help_line(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    assert "check every block against its PyTorch twin" in lines["verify"]
    assert "train a recipe" in lines["train"]
    assert "time ours against PyTorch's" in lines["bench"]


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"byhand {byhand.__version__}\n"


@pytest.mark.parametrize("command", ["verify", "train"])
def test_subcommand_help_names_itself(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: byhand {command} ")
    assert "python -m" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["verify", "--device", "gpu"],
            "argument --device: expected cpu, cuda or cuda:N, got 'gpu'",
        ),
        (["verify", "--device", "meta"], "argument --device: expected cpu, cuda or cuda:N"),
        (["verify", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
        (["verify", "--bogus"], "unrecognized arguments: --bogus"),
        (["verify", "--only", "nothing-matches"], "no registry entry matches --only"),
        (["nope"], "argument COMMAND: invalid choice: 'nope'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    prog = "byhand" if argv[0] in ("nope", "--bogus") else f"byhand {argv[0]}"
    assert err.startswith(f"{prog}: error: ")


def test_python_m_byhand_verify_keeps_its_name_and_one_line_errors(capsys):
    assert verify_main.main(["--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("python -m byhand.verify: error: argument --device")
        and err.count("\n") == 1
    )


def test_bad_device_in_a_real_process_has_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "byhand", "verify", "--device", "gpu"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "byhand verify: error: argument --device: expected cpu, cuda or cuda:N, got 'gpu' "
        "(see byhand verify --help)\n"
    )


def test_verify_runs_through_byhand(capsys):
    code, out, _ = run(capsys, "verify", "--json", "--only", "nn.ReLU")
    assert code == 0
    rows = json.loads(out)
    # --only matches a substring: nn.ReLU and nn.ReLU6
    assert rows and all(row["name"].startswith("nn.ReLU") and row["passed"] for row in rows)
    assert {row["name"] for row in rows} == {"nn.ReLU", "nn.ReLU6"}


def test_verify_torch_tables_through_byhand_and_python_m(capsys, monkeypatch):
    # The tables themselves run in tests/test_torch_tables.py; here only the wiring.
    from byhand.verify import torch_tables

    calls = []
    monkeypatch.setattr(torch_tables, "run", lambda **kwargs: calls.append(kwargs) or [])
    code, out, _ = run(capsys, "verify", "--torch-tables", "--only", "ReLU")
    assert code == 0 and "0 passed, 0 failed, 0 skipped" in out
    assert verify_main.main(["--torch-tables", "--only", "ReLU"]) == 0
    assert [c["only"] for c in calls] == ["ReLU", "ReLU"]
    assert all(c["device"] == "cpu" for c in calls)


def test_failed_check_exits_1_not_2(capsys, monkeypatch):
    entry = next(e for e in byhand.verify.REGISTRY if e.name == "nn.ReLU")
    broken = type(entry)(**{**entry.__dict__, "ours": lambda **kw: byhand.nn.Sigmoid()})
    monkeypatch.setattr(verify_main, "REGISTRY", (broken,))
    code, out, _ = run(capsys, "verify")
    assert code == 1 and "FAIL" in out


def test_bench_forwards_its_options(capsys):
    code, out, _ = run(capsys, "bench", "--", "--help")
    assert code == 0 and "--threads" in out and "--quick" in out
