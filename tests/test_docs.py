"""Static checks of the pages: includes point at real source, block pages show their code."""

import re
from pathlib import Path

import pytest

from byhand.verify import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + sorted(
    p for p in (ROOT / "docs").glob("*/*.md") if p.parent.name != "templates"
)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')


def _include_lines(page):
    return [
        line
        for line in page.read_text().splitlines()
        if "8<" in line or re.search(r"--8\s*<", line)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_includes_resolve(page):
    for line in _include_lines(page):
        match = INCLUDE.match(line)
        assert match, (
            f'{page.name}: malformed include line {line!r} (expected --8<-- "src/...")'
        )
        source = ROOT / match["path"]
        assert source.is_file(), f"{page.name}: {match['path']} does not exist"
        if match["section"]:
            text = source.read_text()
            for edge in ("start", "end"):
                marker = f"--8<-- [{edge}:{match['section']}]"
                assert marker in text, f"{page.name}: {match['path']} has no '{marker}'"


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_block_page_includes_source(entry):
    page = ROOT / "docs" / entry.page
    includes = [line for line in _include_lines(page) if INCLUDE.match(line)]
    assert any('"src/byhand/' in line for line in includes), (
        f"{entry.page} shows no code included from src/"
    )


def test_there_are_pages():
    assert len(PAGES) >= 8
