"""The speed machinery: the benchmark runner (a smoke run on two entries: no timing is asserted),
the Performance page drawn from a results file, and blocks under ``torch.compile``.

The full runs are commands with committed results (benchmarks/README.md):
``python benchmarks/run.py --threads 1,2 --profile --save`` and
``python -m byhand.verify --compiled`` / ``python benchmarks/compiled.py --save``.
"""

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import byhand
from byhand.verify import entry
from byhand.verify.compiled import check_compiled

ROOT = Path(__file__).resolve().parents[1]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner():
    return _load(ROOT / "benchmarks" / "run.py", "byhand_bench_run")


@pytest.fixture(scope="module")
def quick_report(runner, tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "speed-cpu-2000-01-01.json"
    code = runner.main(["--quick", "--only", "nn.Tanh", "--only", "optim.SGD",
                        "--threads", "1", "--save", str(path)])  # fmt: skip
    assert code == 0
    return json.loads(path.read_text())


def test_quick_run_times_both_entries_interleaved(quick_report):
    rows = quick_report["rows"]
    assert {(r["name"], r["timed"]) for r in rows} == {
        ("nn.Tanh", "forward"),
        ("nn.Tanh", "forward+backward"),
        ("optim.SGD", "step"),
    }
    for r in rows:
        assert r["threads"] == 1 and r["rounds"] == len(r["ratios"]) == 2
        assert r["ours_ms"] > 0 and r["theirs_ms"] > 0 and math.isfinite(r["ratio"])
        assert min(r["ratios"]) <= r["ratio"] <= max(r["ratios"])
    tanh = next(r for r in rows if r["timed"] == "forward+backward")
    assert tanh["target"] == 4.0 and tanh["chapter"] == "Activations"
    for key in ("machine", "cpu", "torch", "command", "load_average_start", "blas_threads"):
        assert quick_report[key] is not None
    assert quick_report["quick"] is True and quick_report["threads"] == [1]


def test_runner_refuses_bad_input(runner, capsys):
    assert runner.main(["--only", "no such block"]) == 2
    assert "no registry entry" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        runner.main(["--threads", "0"])
    assert exit_.value.code == 2


def test_median_of_per_round_ratios(runner):
    summary = runner.summarise([2.0, 4.0, 3.0, 30.0], [1.0, 1.0, 1.0, 1.0])
    assert summary["ratio"] == pytest.approx(3.5) and summary["ratios"][3] == 30.0
    # a ratio of medians would be 3.5 here too; with drift it is the per-round ratio that holds
    drift = runner.summarise([1.0, 10.0, 1.0], [0.5, 5.0, 0.5])
    assert drift["ratio"] == pytest.approx(2.0) and drift["spread"] == pytest.approx(0.0)


@pytest.fixture()
def hook(monkeypatch, quick_report, tmp_path):
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        results = importlib.import_module("_speed_results")
        performance = _load(ROOT / "docs" / "hooks" / "performance.py", "byhand_perf_hook")
    finally:
        sys.path.remove(str(ROOT / "docs" / "hooks"))
    report = dict(quick_report, quick=False)  # smoke files are never shown: pretend
    report["rows"][1]["ratio"] = 9.0  # a miss, with a profile to show
    report["rows"][1]["profile"] = [dict(op="aten::mul", self_ms=1.5, share=0.5, calls=3)]
    (tmp_path / "speed-cpu-2000-01-01.json").write_text(json.dumps(report))
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    monkeypatch.setattr(results, "ROOT", tmp_path)
    return performance


def _page(uri):
    return SimpleNamespace(file=SimpleNamespace(src_uri=uri))


def test_performance_page_is_drawn_from_the_results_file(hook):
    text = hook.on_page_markdown("<!-- byhand:performance -->", _page("performance.md"), {}, {})
    assert "| `nn.Tanh` | (1024, 1024) | forward+backward | 1 |" in text
    assert "9.00×" in text and "**missed**" in text and "`aten::mul` | 1.50 | 50%" in text
    assert "0 of 1** rows with a target meet it" in text
    assert "CUDA" in text and "Not measured" in text


def test_resnet_step_states_its_goal_and_profiles_a_miss(hook):
    """The whole-step rows carry the case study's goal; a miss shows both sides' profile."""
    results = sys.modules["_speed_results"].RESULTS
    row = dict(mode="eager", threads=2, ours_ms=13.0, theirs_ms=10.0, ratio=1.3, spread=0.1,
               rounds=5, target=1.25)  # fmt: skip
    row["profile"] = [dict(op="aten::addmm_", self_ms=7.0, share=0.6, calls=9)]
    row["profile_theirs"] = [dict(op="aten::convolution_backward", self_ms=5.0, share=0.5,
                                  calls=1), dict(op="aten::add_", self_ms=1.0, share=0.1,
                                  calls=4)]  # fmt: skip
    met = dict(row, threads=1, ratio=1.1, profile=None, profile_theirs=None)
    data = dict(date="2000-01-02T00:00:00+00:00", command="c", torch="t", batch=32,
                load_average_start=[1], load_average_end=[1], rows=[met, row])  # fmt: skip
    (results / "resnet18-step-cpu-2000-01-02.json").write_text(json.dumps(data))
    text = hook.on_page_markdown("<!-- byhand:performance -->", _page("performance.md"), {}, {})
    assert "| eager | 1 | " in text and "≤ 1.25× met" in text
    assert "| eager | 2 | 13.0 | 10.0 | 1.30× | 0.10 | 5 | ≤ 1.25× **missed** |" in text
    assert "**eager, 2 threads: 1.30×** (goal ≤ 1.25×)" in text
    assert "| `aten::addmm_` | 7.0 | 60% | `aten::convolution_backward` | 5.0 | 50% |" in text
    assert "|  |  |  | `aten::add_` | 1.0 | 10% |" in text


def test_resnet_step_marker_shows_compile_times_and_graph_breaks(hook):
    """The case-study page's marker: the step table, the compiled rows' cold compile times
    and each model's graph breaks; a file run with --no-compile says so."""
    results = sys.modules["_speed_results"].RESULTS
    row = dict(mode="byhand compiled vs torch.nn eager", threads=1, ours_ms=12.0, theirs_ms=10.0,
               ratio=1.2, spread=0.1, rounds=5, target=1.0)  # fmt: skip
    data = dict(date="2000-01-03T00:00:00+00:00", command="c", torch="t", batch=32,
                load_average_start=[1], load_average_end=[1], rows=[row],
                compile_s={"1": {"byhand compiled": 150.4, "torch.nn compiled": 42.0}},
                graph_breaks={"byhand compiled": {"graphs": 1, "breaks": 0, "reasons": []},
                              "torch.nn compiled": {"graphs": 2, "breaks": 1,
                                                    "reasons": ["r"]}})  # fmt: skip
    path = results / "resnet18-step-cpu-2000-01-03.json"
    path.write_text(json.dumps(data))
    page = _page("case-studies/resnet18-cifar10.md")
    text = hook.on_page_markdown("A\n\n<!-- byhand:resnet18-step -->\n", page, {}, {})
    assert "| byhand compiled vs torch.nn eager | 1 | 12.0 | 10.0 | 1.20× |" in text
    assert "≤ 1× **missed**" in text
    assert "1 thread: byhand compiled 150 s, torch.nn compiled 42 s" in text
    assert "byhand compiled 1 graph, 0 breaks, torch.nn compiled 2 graphs, 1 break." in text
    path.write_text(json.dumps(dict(data, compile_s={"1": {}}, graph_breaks={})))
    text = hook.on_page_markdown("<!-- byhand:resnet18-step -->", page, {}, {})
    assert "No compiled rows in this file (it was run with `--no-compile`)." in text


PAGE = "# T\n\n## Check\n\nChecked.\n\n## Pitfalls\n\nMore.\n"


def _check_section(text):
    return text[text.index("## Check") : text.index("## Pitfalls")]


def test_speed_box_on_a_block_page(hook, caplog):
    """A page named by a results row shows its rows at the end of Check; others nothing."""
    check = _check_section(hook.on_page_markdown(PAGE, _page("activations/index.md"), {}, {}))
    assert '!!! info "Speed: ours / PyTorch, CPU float32"' in check
    assert (
        "| (1024, 1024) | forward+backward | 9.00× (" in check and "≤ 4×: **missed**" in check
    )
    assert "| (1024, 1024) | forward | " in check and "../performance.md" in check
    assert "speed-cpu-2000-01-01.json" in check and "Measured 20" in check
    sgd = _check_section(hook.on_page_markdown(PAGE, _page("optim/sgd.md"), {}, {}))
    assert "| step | " in sgd and "nn.Tanh" not in sgd
    assert hook.on_page_markdown(PAGE, _page("modules/linear.md"), {}, {}) == PAGE
    # an explicit marker places the box itself (and names the blocks); an unknown name warns
    text = hook.on_page_markdown("x\n<!-- byhand:speed nn.Tanh -->\n", _page("a.md"), {}, {})
    assert text.count("!!! info") == 1 and "9.00×" in text and "byhand:speed" not in text
    hook.on_page_markdown("<!-- byhand:speed nn.NoSuchBlock -->", _page("a.md"), {}, {})
    assert "no row" in caplog.text


def test_rows_naming_a_page_the_site_lacks_warn(hook, caplog):
    pages = [SimpleNamespace(src_uri="activations/index.md")]
    hook.on_files(SimpleNamespace(documentation_pages=lambda: pages), {})
    assert "rows for optim/sgd.md, a page the site does not have" in caplog.text
    assert "activations/index.md, a page" not in caplog.text


def test_speed_box_uses_the_newest_file_of_each_device(hook, quick_report):
    results = sys.modules["_speed_results"].RESULTS
    newer = json.loads(json.dumps(quick_report))
    newer.update(quick=False, date="2999-01-01T00:00:00+00:00")
    for row in newer["rows"]:
        row["ratio"] = 0.5
    (results / "speed-cpu-2999-01-01.json").write_text(json.dumps(newer))
    newer.update(device="cuda")
    (results / "speed-cuda-2999-01-01.json").write_text(json.dumps(newer))
    check = _check_section(hook.on_page_markdown(PAGE, _page("activations/index.md"), {}, {}))
    assert "9.00×" not in check and "0.50×" in check and "Measured 2999-01-01" in check
    assert "CPU float32" in check and "CUDA float32" in check


# A representative subset under torch.compile (aot_eager: dynamo + AOTAutograd, the same
# graphs and breaks as Inductor without its code generation); `python -m byhand.verify
# --compiled` compiles every block with Inductor.
@pytest.mark.parametrize("name", ["nn.LayerNorm", "nn.BatchNorm2d", "nn.Dropout"])
def test_compiled_block_equals_eager_without_extra_breaks(name):
    result = check_compiled(entry(name), backend="aot_eager")
    assert result.passed, result.failures
    assert result.breaks == 0 and result.theirs_breaks == 0, result.break_reasons


def test_conv2d_has_no_graph_break():
    """The issue's break: ``torch.add(..., out=y)`` into a strided tensor, in every conv."""
    conv = byhand.nn.Conv2d(2, 3, 3, padding=1)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(conv)(torch.randn(1, 2, 5, 5))
    torch._dynamo.reset()
    assert explained.graph_break_count == 0, explained.break_reasons
