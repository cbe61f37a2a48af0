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
from byhand.export import is_block
from byhand.verify.registry import REGISTRY

BLOCKS = [entry for entry in REGISTRY if is_block(entry.name)]

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def _write(folder, name, key=None, broken=None):
    """Export ``name`` into ``folder``; its manifest item (``key`` names a sabotaged copy)."""
    roots, _ = exporter.resolve(name)
    result = exporter.export(name, format=False)
    source = result.source if broken is None else broken(result.source)
    path = folder / ((key or name).replace(".", "_").replace(" ", "_") + ".py")
    path.write_text(source, encoding="utf-8")
    exported = {(module, own): shown for module, own, shown in result.definitions}
    return {
        "file": str(path),
        "entry": name,
        "roots": [[module, own, exported[(module, own)]] for module, own in roots],
    }


def _break_gelu(source):
    assert ".erfc_().mul_(0.5)" in source, "the sabotage below no longer applies"
    return source.replace(".erfc_().mul_(0.5)", ".erfc_().mul_(0.49)", 1)


def _break_linear(source):
    assert "y = y + bias" in source, "the sabotage below no longer applies"
    return source.replace("y = y + bias", "y = y", 1)


BROKEN = {
    "nn.GELU broken": ("nn.GELU", _break_gelu),
    "nn.Linear broken": ("nn.Linear", _break_linear),
}


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """Every registry block exported, plus two sabotaged copies, run in ONE child interpreter."""
    folder = tmp_path_factory.mktemp("standalone")
    manifest = {entry.name: _write(folder, entry.name) for entry in BLOCKS}
    for key, (name, broken) in BROKEN.items():
        manifest[key] = _write(folder, name, key, broken)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", "1")
    child = [sys.executable, "-I", "-W", "ignore", str(ROOT / "tests" / "_export_parity.py")]
    done = subprocess.run(
        [*child, str(folder / "manifest.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, json.loads(done.stdout)


def test_every_block_runs_standalone_and_matches_its_twin(standalone):
    folder, report = standalone
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                )
                roots = {m.split(".")[0] for m in names}
                assert roots <= set(sys.stdlib_module_names) | {"torch", "numpy"}, (
                    path.name,
                    roots,
                )
    if RUFF:  # what `byhand export` does when ruff is installed, then the project's lint rules
        config = ["--no-cache", "--config", str(ROOT / "pyproject.toml")]
        subprocess.run([RUFF, "format", "--quiet", *config, str(folder)], check=True)
        lint = subprocess.run(
            [RUFF, "check", *config, str(folder)], capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout[-3000:]
    blocks = {name: r for name, r in report.items() if name not in BROKEN}
    failed = {name: r for name, r in blocks.items() if not r["passed"]}
    assert not failed, failed
    assert sorted(blocks) == sorted(entry.name for entry in BLOCKS)
    twins = sum(entry.kind == "twin" for entry in BLOCKS)
    print(f"\nexported and checked standalone: {len(blocks)} blocks ({twins} twins)")


def test_a_broken_export_fails_its_check(standalone):
    """The child can fail: GELU with a wrong constant, Linear with its bias dropped."""
    _, report = standalone
    gelu, linear = report["nn.GELU broken"], report["nn.Linear broken"]
    assert not gelu["passed"] and "forward" in gelu["failures"][0]
    assert not linear["passed"] and linear["calls"][0] > 0


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
