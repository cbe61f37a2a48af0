"""Notebooks under docs/ are committed clean and run offline.

The docs build executes every notebook (``docs/hooks/notebooks.py``; mkdocs-jupyter renders the
executed copy), so stored outputs would only be stale copies of what the build prints. These checks keep them out of the repository
and keep the notebooks from reaching the network.
"""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted(p for p in DOCS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def load(path):
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def code_cells(nb):
    return [(i, cell) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"]


def source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_docs_have_notebooks():
    assert NOTEBOOKS, f"no *.ipynb found under {DOCS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_committed_without_outputs(path):
    name = path.relative_to(ROOT).as_posix()
    nb = load(path)
    assert nb.get("nbformat") == 4, f"{name}: expected nbformat 4, got {nb.get('nbformat')}"
    for i, cell in code_cells(nb):
        assert cell.get("outputs") == [], (
            f"{name}: code cell {i} has stored outputs; clear them before committing"
        )
        assert cell.get("execution_count") is None, (
            f"{name}: code cell {i} has execution_count {cell.get('execution_count')}; it must be null"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_uses_no_network(path):
    name = path.relative_to(ROOT).as_posix()
    for i, cell in code_cells(load(path)):
        text = source(cell)
        for scheme in ("http://", "https://"):
            assert scheme not in text, (
                f"{name}: code cell {i} mentions {scheme!r}; notebooks must run offline"
            )
