"""``byhand check``: five exercises, each with a correct solution that passes and two planted
mistakes that fail with a message naming the quantity that diverged."""

import json
from pathlib import Path

import pytest

from byhand.check import CheckError, check, find_entry, load
from byhand.cli import main

EXERCISES = Path(__file__).resolve().parent / "fixtures" / "exercises"

# file, correct solution, twin, [(planted mistake, words the failure must contain)]
CASES = [
    (
        "group_norm.py",
        "GroupNorm",
        "torch.nn.GroupNorm",
        [("GroupNormInterleaved", "output [forward]"), ("GroupNormEpsOutside", "output")],
    ),
    (
        "batch_norm.py",
        "BatchNorm1d",
        "torch.nn.BatchNorm1d",
        [
            ("BatchNorm1dBiasedRunningVar", "buffer running_var"),
            ("BatchNorm1dMomentumSwapped", "buffer running_mean"),
        ],
    ),
    (
        "lstm_cell.py",
        "LSTMCell",
        "torch.nn.LSTMCell",
        [("LSTMCellGatesSwapped", "output[0]"), ("LSTMCellNoTanh", "output[0]")],
    ),
    (
        "adamw.py",
        "AdamW",
        "torch.optim.AdamW",
        [
            ("AdamWNoBiasCorrection", "parameters after a step"),
            ("AdamWCoupledDecay", "optimizer state exp_avg"),
        ],
    ),
    (
        "cross_entropy.py",
        "CrossEntropyLoss",
        "torch.nn.CrossEntropyLoss",
        [
            ("CrossEntropySmoothedOverKMinus1", "output [forward]"),
            ("CrossEntropySmoothingUnweighted", "output [forward]"),
        ],
    ),
]


def _run(file, name, against=None, torch_tables=False, stop_after=None):
    obj = load(f"{EXERCISES / file}:{name}")
    entry, original = find_entry(name, obj, against)
    return check(obj, entry, original, torch_tables=torch_tables, stop_after=stop_after)


@pytest.mark.parametrize(("file", "correct", "twin", "wrong"), CASES, ids=[c[1] for c in CASES])
def test_correct_passes_and_planted_mistakes_fail(file, correct, twin, wrong):
    # the optimizer also gets PyTorch's optim_db inputs (cheap); module_db is test_torch_tables'
    outcomes = _run(file, correct, torch_tables=twin.startswith("torch.optim"))
    failed = [(o.case, o.failures) for o in outcomes if o.status == "fail"]
    assert not failed, failed
    assert sum(o.status == "pass" for o in outcomes) >= 4
    for name, words in wrong:
        outcomes = _run(file, name, against=twin, stop_after=1)
        messages = [f for o in outcomes if o.status == "fail" for f in o.failures]
        assert messages, f"{name} passed"
        assert any(words in m and "max abs error" in m for m in messages), (name, messages[:3])


def test_torch_tables_for_a_module(capsys):
    code = main(["check", f"{EXERCISES / 'lstm_cell.py'}:LSTMCell", "--json"])
    outcomes = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {o["source"] for o in outcomes} == {"registry", "module_db"}


def test_exit_codes_and_one_line_errors(tmp_path, capsys):
    wrong = f"{EXERCISES / 'batch_norm.py'}:BatchNorm1dBiasedRunningVar"
    assert main(["check", wrong, "--against", "torch.nn.BatchNorm1d", "--no-torch-tables"]) == 1
    out = capsys.readouterr().out
    assert "FAIL nn.BatchNorm1d" in out and "buffer running_var" in out
    mine = tmp_path / "mine.py"
    mine.write_text("import torch\n\nclass MyNorm(torch.nn.Module):\n    pass\n")
    for argv, words in (
        ([str(tmp_path / "missing.py") + ":X"], "no file"),
        ([f"{mine}:Nothing"], "defines no 'Nothing'"),
        ([f"{mine}:MyNorm"], "no twin found"),
        ([str(mine)], "expected FILE.py:NAME"),
        ([f"{mine}:MyNorm", "--against", "torch.nn.NoSuchThing"], "no twin found"),
    ):
        assert main(["check", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (argv, err)


def test_a_file_that_raises_is_bad_usage(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(CheckError, match="boom"):
        load(f"{broken}:GroupNorm")


def test_functional_twin(tmp_path):
    """A function is checked through the module built on it: gelu -> nn.GELU."""
    mine = tmp_path / "act.py"
    mine.write_text(
        "import math\nimport torch\n\n\ndef gelu(input, approximate='none'):\n"
        "    if approximate == 'tanh':\n"
        "        c = math.sqrt(2 / math.pi)\n"
        "        return 0.5 * input * (1 + torch.tanh(c * (input + 0.044715 * input**3)))\n"
        "    return 0.5 * input * (1 + torch.erf(input / math.sqrt(2)))\n"
    )
    outcomes = _run(mine, "gelu")
    assert outcomes and all(o.status == "pass" for o in outcomes)
