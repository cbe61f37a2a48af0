"""Static checks of the pages: includes point at real source, block pages show their code,
and no code line is wider than the page's code column."""

import importlib.util
import json
import re
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import markdown
import pytest

from byhand.verify import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + sorted(
    p for p in (ROOT / "docs").glob("*/*.md") if p.parent.name != "templates"
)
INCLUDE = re.compile(r'^\s*--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')


def _include_lines(page):
    return [
        line
        for line in page.read_text().splitlines()
        if "8<" in line or re.search(r"--8\s*<", line)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_includes_resolve(page):
    for line in _include_lines(page):
        match = INCLUDE.match(line.strip())  # includes inside ??? blocks are indented
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
    includes = [line for line in _include_lines(page) if INCLUDE.match(line.strip())]
    assert any('"src/byhand/' in line for line in includes), (
        f"{entry.page} shows no code included from src/"
    )


def test_there_are_pages():
    assert len(PAGES) >= 8


# --- code lines fit the code column -----------------------------------------------------------
# The page's code column shows about 100 characters at a 1400-pixel-wide window (measured with a
# headless-Chromium screenshot, docs/stylesheets/extra.css); ruff allows 96 in src/. A longer
# line would be cut off on screen, so no code line a page shows may be wider.
CODE_COLUMN = 96
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
NOTEBOOKS = sorted((ROOT / "docs").rglob("*.ipynb"))


def _width(line):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line.expandtabs(4))


def _expanded(page):
    """The page's Markdown with every ``--8<--`` include expanded, as the build expands it."""
    md = markdown.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={
            "pymdownx.snippets": {"base_path": [str(ROOT)], "check_paths": True}
        },
    )
    return md.preprocessors["snippet"].run(page.read_text(encoding="utf-8").splitlines())


def code_lines(lines):
    """``(line number, line)`` of every line inside a fenced code block, fence indent removed."""
    out, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        closing = re.compile(rf"^{re.escape(indent)}{fence[0]}{{{len(fence)},}}\s*$")
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            line = lines[i]
            out.append(
                (i + 1, line[len(indent) :] if line.startswith(indent) else line.lstrip())
            )
            i += 1
        i += 1
    return out


def too_wide(numbered_lines):
    return [
        f"{n}: ({_width(line)} > {CODE_COLUMN}) {line.strip()[:70]}..."
        for n, line in numbered_lines
        if _width(line) > CODE_COLUMN
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_code_lines_fit_the_column(page):
    """Every line of every code block a page shows, includes expanded, fits the code column."""
    wide = too_wide(code_lines(_expanded(page)))
    assert not wide, (
        f"{page.relative_to(ROOT)}: code lines wider than the {CODE_COLUMN}-character code "
        "column (line numbers after includes are expanded):\n" + "\n".join(wide)
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_included_sections_fit_the_column(page):
    """Every line of every ``src/`` section a page includes fits, named by file and line."""
    wide = []
    for line in _include_lines(page):
        match = INCLUDE.match(line.strip())
        if not match:
            continue
        source = (ROOT / match["path"]).read_text(encoding="utf-8").splitlines()
        start, end = 0, len(source)
        if match["section"]:
            start = next(i for i, s in enumerate(source) if f"[start:{match['section']}]" in s)
            end = next(i for i, s in enumerate(source) if f"[end:{match['section']}]" in s)
        numbered = list(enumerate(source[start:end], start=start + 1))
        wide += [f"{match['path']}:{w}" for w in too_wide(numbered)]
    assert not wide, f"{page.relative_to(ROOT)} includes lines wider than the column:\n" + (
        "\n".join(wide)
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_notebook_code_fits_the_column(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    wide = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            wide += [f"cell {i}, line {w}" for w in too_wide(enumerate(lines, start=1))]
    assert not wide, f"{notebook.relative_to(ROOT)}: code wider than the column:\n" + (
        "\n".join(wide)
    )


def test_width_check_catches_a_long_line():
    lines = [
        "text",
        "```python",
        "x = 1",
        "y = " + "1 + " * 30 + "1",
        "```",
        "    ```py",
        "    ok",
    ]
    assert [n for n, _ in code_lines(lines)] == [3, 4, 7]
    assert len(too_wide(code_lines(lines))) == 1


# --- the build hooks' own logic ---------------------------------------------------------------
def _hook(name):
    """Import ``docs/hooks/<name>.py`` as the build does (its folder on ``sys.path``)."""
    hooks = str(ROOT / "docs" / "hooks")
    sys.path.insert(0, hooks)
    try:
        spec = importlib.util.spec_from_file_location(
            f"byhand_hook_{name}", f"{hooks}/{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(hooks)
    return module


def test_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    checks = _hook("checks")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text("")
    (tmp_path / "index.html").write_text("")
    links = [
        ("a", "a/#there"),  # fine
        ("a", "#here"),  # fine
        ("a", "a/#the-same-run-with"),  # the anchor is not on that page
        ("a", "missing/"),  # no such page
        ("a", "https://example.org/"),  # external: not checked
        ("script", "a/index.html"),  # fine
    ]
    checks._pages.clear()
    checks._pages["index.html"] = ("index.md", {"here"}, links)
    checks._pages["a/index.html"] = ("a.md", {"there", "the-same-run-with-torchnn"}, [])
    broken = checks.broken_links(tmp_path)
    assert [(url, why) for _, url, why in broken] == [
        ("a/#the-same-run-with", "a.md has no anchor #the-same-run-with"),
        ("missing/", "no file missing/index.html in the site"),
    ]


def test_build_steps_are_cached_only_under_serve(monkeypatch):
    steps = _hook("_subprocess")
    monkeypatch.delenv("BYHAND_BUILD_CACHE", raising=False)
    assert not steps.caching()  # no on_startup (mkdocs used as a library): fresh
    steps.use_cache("build")
    assert not steps.caching()
    steps.use_cache("gh-deploy")
    assert not steps.caching()
    steps.use_cache("serve")
    assert steps.caching()
    monkeypatch.setenv("BYHAND_BUILD_CACHE", "0")
    steps.use_cache("serve")
    assert not steps.caching()


def test_cache_key_follows_src_and_the_named_files(tmp_path):
    steps = _hook("_subprocess")
    notebook = tmp_path / "n.ipynb"
    notebook.write_text("{}")
    key = steps.fingerprint([notebook], ["OUT"])
    assert steps.fingerprint([notebook], ["OUT"]) == key
    notebook.write_text('{"cells": []}')
    assert steps.fingerprint([notebook], ["OUT"]) != key


def test_identical_train_and_eval_rows_collapse():
    verification = _hook("verification")

    def result(case, mode, err):
        return {
            "case": case,
            "mode": mode,
            "max_abs_err": {"forward": err},
            "passed": True,
            "failures": [],
            "gradcheck": None,
        }

    rows = verification._rows(
        [result("a", "train", 0.0), result("a", "eval", 0.0), result("b", "train", 1e-16)]
        + [result("b", "eval", 2e-16)]
    )
    assert [(mode, r["case"]) for mode, r in rows] == [
        ("train = eval", "a"),
        ("train", "b"),
        ("eval", "b"),
    ]


def test_pages_are_rendered_once_only_under_serve(monkeypatch):
    """``serve.py`` caches a page's rendering under ``serve``; ``mkdocs build`` renders afresh."""
    from mkdocs.structure.pages import Page

    monkeypatch.setattr(Page, "render", Page.render)  # restored after the test
    serve = _hook("serve")
    serve.on_startup("build", False)
    assert not getattr(Page.render, "byhand_cached", False)

    calls = []

    def render(page, config, files):
        calls.append(page.markdown)
        page.content, page.toc, page._title_from_render = f"<p>{page.markdown}</p>", [], None
        page.present_anchor_ids, page.links_to_anchors = set(), {}

    monkeypatch.setattr(Page, "render", render)
    serve.on_startup("serve", False)
    assert Page.render.byhand_cached

    class FakePage:
        def __init__(self, markdown):
            self.markdown, self.links_to_anchors = markdown, None
            self.file = type("F", (), {"src_uri": "a.md"})()

    serve._store["digest"] = "d1"
    for source in ("one", "one", "two", "one"):
        page = FakePage(source)
        Page.render(page, None, None)
        assert page.content == f"<p>{source}</p>"
    assert calls == ["one", "two"]  # the same Markdown is converted once
    serve._store["digest"] = "d2"  # src/ changed: everything is converted again
    Page.render(FakePage("one"), None, None)
    assert calls == ["one", "two", "one"]
    serve.on_startup("build", False)  # leave the build steps uncached for the other tests
    serve._store["renders"].clear()
    serve._store["digest"] = None


def _serving(serve, on):
    """Caching on or off in ``_subprocess`` as the hooks import it (``serve`` imports it)."""
    sys.modules["_subprocess"].use_cache("serve" if on else "build")


def test_code_share_is_kept_per_page_only_under_serve(monkeypatch):
    """Under ``serve`` a page whose HTML did not change is not parsed again; a build parses."""
    serve, teaching = _hook("serve"), _hook("teaching")
    parsed = []
    share = teaching.code_share
    monkeypatch.setattr(teaching, "code_share", lambda html: parsed.append(html) or share(html))
    teaching.on_config({"extra": {}})
    teaching.on_pre_build({})
    page = SimpleNamespace(file=SimpleNamespace(src_uri="modules/a.md"))
    html = "<p>two words</p><pre><code>x = 1</code></pre>"
    try:
        for on, expected in ((False, 2), (True, 1)):
            _serving(serve, on)
            parsed.clear()
            for _ in range(2):
                teaching.on_page_content(html, page, {}, None)
            assert len(parsed) == expected
            assert teaching._state["pages"]["modules/a.md"]["visible_code_chars"] == 3
        teaching.on_page_content(html + "<p>more</p>", page, {}, None)  # edited: parsed
        assert len(parsed) == 2
    finally:
        _serving(serve, False)


def test_page_template_is_filled_again_only_when_what_it_shows_changed(monkeypatch):
    serve = _hook("serve")
    filled = []

    class Template:
        name = "main.html"

        def render(self, context):
            filled.append(context["page"].url)
            return f"{context['page'].title}: {context['page'].content}"

    class Env:
        def get_template(self, name):
            return Template()

    def page(content="<p>x</p>", title="A"):
        return SimpleNamespace(url="a/", content=content, toc="", meta={}, title=title)

    def nav(title="A"):
        return SimpleNamespace(items=[SimpleNamespace(title=title, url="a/", children=None)])

    try:
        _serving(serve, False)
        env = serve.on_env(Env(), None, None)
        env.get_template("main.html").render({"page": page(), "nav": nav()})
        env.get_template("main.html").render({"page": page(), "nav": nav()})
        assert filled == ["a/", "a/"]  # mkdocs build: always filled
        _serving(serve, True)
        serve._store["pages"].clear()
        env = serve.on_env(Env(), None, None)
        shared_nav = nav()
        outputs = [
            env.get_template("main.html").render({"page": page(), "nav": shared_nav}),
            env.get_template("main.html").render({"page": page(), "nav": shared_nav}),
            env.get_template("main.html").render({"page": page("<p>y</p>"), "nav": shared_nav}),
            env.get_template("main.html").render({"page": page("<p>y</p>"), "nav": nav("B")}),
        ]
        assert len(filled) == 5  # the same page once; new HTML or a new nav fill it again
        assert outputs == ["A: <p>x</p>", "A: <p>x</p>", "A: <p>y</p>", "A: <p>y</p>"]
    finally:
        _serving(serve, False)
        serve._store["pages"].clear()


def test_verification_boxes_are_kept_with_their_warnings_under_serve(monkeypatch, caplog):
    serve, verification = _hook("serve"), _hook("verification")
    expanded = []
    expand = verification._expand
    monkeypatch.setattr(
        verification, "_expand", lambda md, page: expanded.append(md) or expand(md, page)
    )
    page = SimpleNamespace(file=SimpleNamespace(src_uri="modules/a.md"))
    markdown = "text\n<!-- byhand:checked nn.NoSuchBlock -->\n"
    try:
        _serving(serve, True)
        sys.modules["_subprocess"].kept("verification").clear()
        for _ in range(2):  # two rebuilds of the server
            verification._state.clear()
            empty = SimpleNamespace(output=lambda: "[]")
            verification._state.update(step=empty, tables_step=empty)
            assert verification.on_page_markdown(markdown, page, {}, None) == "text\n\n"
        assert len(expanded) == 1
        assert caplog.text.count("names no registry entry") == 2  # the warning is shown again
    finally:
        _serving(serve, False)


def test_a_reused_page_registers_its_anchors_and_inventory_again():
    """An API page converted once under ``serve`` still gives autorefs its anchors and
    mkdocstrings its inventory entries and handler on every rebuild (else links break)."""
    serve = _hook("serve")

    class Autorefs:
        def __init__(self):
            self.anchors = []

        def register_anchor(self, page, identifier, anchor=None, *, title=None, primary=True):
            self.anchors.append((page, identifier, anchor, title, primary))

    class Inventory:
        def __init__(self):
            self.entries = []

        def register(self, **kwargs):
            self.entries.append(kwargs)

    class Handlers:
        def __init__(self):
            self._handlers, self.inventory = {}, Inventory()

        def get_handler(self, name):
            return self._handlers.setdefault(name, object())

    def config():
        strings = SimpleNamespace(_handlers=Handlers())
        return SimpleNamespace(plugins={"autorefs": Autorefs(), "mkdocstrings": strings})

    def render(page, config, files):  # what mkdocstrings does while converting an API page
        handlers = config.plugins["mkdocstrings"]._handlers
        handlers.get_handler("python")
        config.plugins["autorefs"].register_anchor(page, "byhand.nn.Linear", title="Linear")
        handlers.inventory.register(name="byhand.nn.Linear", uri="api/nn/#byhand.nn.Linear")

    first, second = config(), config()
    recorded = serve._Registrations(first).record(render, "page-1", first, None)
    serve._Registrations(second).replay("page-2", recorded)
    for built, page in ((first, "page-1"), (second, "page-2")):
        assert built.plugins["autorefs"].anchors == [
            (page, "byhand.nn.Linear", None, "Linear", True)
        ]
        handlers = built.plugins["mkdocstrings"]._handlers
        assert list(handlers._handlers) == ["python"]
        assert handlers.inventory.entries == [
            {"name": "byhand.nn.Linear", "uri": "api/nn/#byhand.nn.Linear"}
        ]
    assert "register_anchor" not in vars(first.plugins["autorefs"])  # unpatched afterwards
