"""``byhand export``: every registry block as a standalone file that runs without byhand.

One child interpreter (``tests/_export_parity.py``) loads every exported file while ``import
byhand`` fails, then runs the registry's parity check of each block on the exported copy (its
first case, float64, no gradcheck: the full matrix is ``tests/test_registry.py``'s).
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from byhand import export as exporter
from byhand.cli import main
from byhand.verify.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def _manifest(folder, names, broken=None):
    manifest = {}
    for name in names:
        roots, _ = exporter.resolve(name)
        result = exporter.export(name, format=False)
        source = result.source if broken is None else broken(result.source)
        path = folder / (name.replace(".", "_") + ".py")
        path.write_text(source, encoding="utf-8")
        exported = {(module, own): shown for module, own, shown in result.definitions}
        manifest[name] = {
            "file": str(path),
            "roots": [[module, own, exported[(module, own)]] for module, own in roots],
        }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder / "manifest.json"


def _run_child(manifest):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", "1")
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-W",
            "ignore",
            str(ROOT / "tests" / "_export_parity.py"),
            str(manifest),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=manifest.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_every_block_runs_standalone_and_matches_its_twin(tmp_path):
    names = [entry.name for entry in REGISTRY]
    manifest = _manifest(tmp_path, names)
    for path in tmp_path.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                )
                roots = {m.split(".")[0] for m in modules}
                assert roots <= set(sys.stdlib_module_names) | {"torch", "numpy"}, (
                    path.name,
                    roots,
                )
    if RUFF:  # what `byhand export` does when ruff is installed, then the project's lint rules
        config = ["--no-cache", "--config", str(ROOT / "pyproject.toml")]
        subprocess.run([RUFF, "format", "--quiet", *config, str(tmp_path)], check=True)
        lint = subprocess.run(
            [RUFF, "check", *config, str(tmp_path)], capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout[-3000:]
    report = _run_child(manifest)
    failed = {name: r for name, r in report.items() if not r["passed"]}
    assert not failed, failed
    assert sorted(report) == sorted(names)
    twins = sum(entry.kind == "twin" for entry in REGISTRY)
    print(f"\nexported and checked standalone: {len(report)} blocks ({twins} twins)")


def test_a_broken_export_fails_its_check(tmp_path):
    """The child can fail: GELU with a wrong constant, Linear with its bias dropped."""

    def break_it(source):
        if "def gelu" in source:
            return source.replace("0.5 * x * (1 + torch.erf", "0.49 * x * (1 + torch.erf", 1)
        return source.replace("y = y + bias", "y = y", 1)

    source = exporter.export("GELU", format=False).source
    assert "0.5 * x * (1 + torch.erf" in source, "the sabotage below no longer applies"
    report = _run_child(_manifest(tmp_path, ["nn.GELU", "nn.Linear"], broken=break_it))
    assert not report["nn.GELU"]["passed"] and "forward" in report["nn.GELU"]["failures"][0]
    assert not report["nn.Linear"]["passed"]


def test_names_as_pytorch_spells_them():
    for name, qualified in (
        ("Linear", "byhand.nn.Linear"),
        ("GELU", "byhand.nn.GELU"),
        ("AdamW", "byhand.optim.AdamW"),
        ("CosineAnnealingLR", "byhand.optim.lr_scheduler.CosineAnnealingLR"),
        ("scaled_dot_product_attention", "byhand.nn.functional.scaled_dot_product_attention"),
        ("torch.nn.Linear", "byhand.nn.Linear"),
        ("classic.conv_forward_fast", "byhand.classic.conv_forward_fast"),
    ):
        assert exporter.resolve(name)[1] == qualified
    roots, _ = exporter.resolve("classic.conv_forward_fast")
    assert [name for _, name in roots] == ["conv_forward_fast", "conv_backward_fast"]


def test_a_clashing_name_is_renamed():
    """``F.dropout`` inside a function whose argument is ``dropout`` must not become ``dropout``."""
    result = exporter.export("TransformerEncoderLayer", format=False)
    compile(result.source, "standalone", "exec")
    shown = {shown for _, _, shown in result.definitions}
    assert len(shown) == len(result.definitions)


def test_cli_prints_writes_and_refuses(tmp_path, capsys):
    assert main(["export", "Linear"]) == 0
    out = capsys.readouterr().out
    assert "class Linear(torch.nn.Module)" in out
    imported = [
        n for n in ast.walk(ast.parse(out)) if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    assert imported and not any("byhand" in ast.unparse(n) for n in imported)
    target = tmp_path / "linear.py"
    assert main(["export", "nn.Linear", "-o", str(target)]) == 0
    assert "def linear(" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["linear.py"]  # no temporary file left
    assert main(["export", "Linar"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Linear" in err[0] and "Linar" in err[0]
    assert main(["export", "Linear", "-o", str(tmp_path / "no" / "x.py")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["export", "--all"]) == 2  # --all needs the folder -o names
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["nn", "", "nn.functional", "1x"])
def test_not_a_block(name):
    with pytest.raises(exporter.ExportError):
        exporter.export(name)
