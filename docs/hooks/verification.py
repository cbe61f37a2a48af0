"""Write the measured parity checks into the site.

``on_pre_build`` starts, in child processes, the same commands a reader runs:
``python -m byhand.verify --json`` (the registry) and ``python -m byhand.verify --torch-tables
--json`` (PyTorch's own ``module_db`` / ``optim_db`` inputs). Pages then get, in place of these
markers:

* ``<!-- byhand:verification -->`` — every registry check, per block (Verification page);
* ``<!-- byhand:torch-tables -->`` — per class: PyTorch's inputs run, passed, skipped (with the
  reasons), failed (Verification page);
* ``<!-- byhand:summary -->`` — one row per block, linking to its page;
* ``<!-- byhand:counts -->`` — one sentence of live counts: blocks, checks passing, PyTorch's
  inputs passing (home page);
* ``<!-- byhand:checked NAME -->`` — a "Checked against PyTorch" box for registry entry NAME;
  ``<!-- byhand:checked NAME1 NAME2 ... -->`` one box for a family (one environment line).

Every number in those tables comes from those runs. A failing check or input, an unknown NAME,
or a registry entry whose page carries no box is a warning, and the strict build stops on it.
Under ``mkdocs serve`` both runs are cached until ``src/`` changes (``_subprocess``), and a page
is expanded again only when its Markdown, the results or the pages' titles changed.
"""

import json
import logging
import platform
import re
from pathlib import Path

from _subprocess import Step, caching, digest, kept

from byhand.export import is_block

log = logging.getLogger("mkdocs.hooks.verification")
MARKER = re.compile(
    r"<!--\s*byhand:(verification|torch-tables|summary|counts|checked)\s*([^>]*?)\s*-->"
)
GROUPS = (  # (column title, predicate on a quantity name), in display order
    ("init", lambda q: q == "init"),
    ("forward", lambda q: q.startswith("forward")),
    ("∂ inputs", lambda q: q.startswith("grad.input")),
    ("∂ parameters", lambda q: q.startswith("grad.") and not q.startswith("grad.input")),
    ("buffers", lambda q: q.startswith("buffer.")),
    ("parameters (20 steps)", lambda q: q == "params"),
    ("optimizer state", lambda q: q.startswith("state.")),
)
_state = {}


def on_pre_build(config):
    _state.clear()
    _state["step"] = Step(
        "verify",
        "python -m byhand.verify --json",
        *("-m", "byhand.verify", "--json"),
        ok_codes=(0, 1),
    )
    _state["tables_step"] = Step(
        "torch-tables",
        "python -m byhand.verify --torch-tables --json",
        *("-m", "byhand.verify", "--torch-tables", "--json"),
        ok_codes=(0, 1),
    )


def on_nav(nav, config, files):
    """Every page's title, for links that read as titles rather than file names."""
    titles = _state["titles"] = {}
    for page in nav.pages:
        titles[page.file.src_uri] = page.title or _first_heading(page.file.abs_src_path)
    return nav


def _first_heading(path):
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return Path(path).stem


def _page_link(from_page, to_uri):
    title = _state.get("titles", {}).get(to_uri, to_uri)
    return f"[{title}]({_relative_link(from_page.file.src_uri, to_uri)})"


def _results():
    if "results" not in _state:
        results = json.loads(_state["step"].output())
        for r in results:
            if not r["passed"]:
                log.warning(
                    "parity check failed: %s [%s, %s]: %s",
                    r["name"],
                    r["case"],
                    r["mode"],
                    "; ".join(r["failures"]),
                )
        _state["results"] = results
        _state["boxed"] = set()
    return _state["results"]


def _table_results():
    """PyTorch's module_db / optim_db inputs run against byhand: one dict per run."""
    if "tables" not in _state:
        tables = json.loads(_state["tables_step"].output())
        for r in tables:
            if r["status"] == "fail":
                log.warning(
                    "PyTorch's %s input failed: %s [%s, %s]: %s",
                    r["table"],
                    r["name"],
                    r["desc"],
                    r["mode"],
                    r["reason"],
                )
        _state["tables"] = tables
    return _state["tables"]


def _registry_name(table_result):
    prefix = "nn." if table_result["table"] == "module_db" else "optim."
    return prefix + table_result["name"]


def _table_counts(rows):
    return {s: sum(r["status"] == s for r in rows) for s in ("pass", "skip", "fail")}


def _tables_line(rows):
    """``210 of 210 runs pass`` (+ skipped / failed) for some of PyTorch's inputs."""
    counts = _table_counts(rows)
    line = f"{counts['pass']} of {len(rows)} runs pass"
    if counts["skip"]:
        line += f", {counts['skip']} skipped"
    if counts["fail"]:
        line += f", **{counts['fail']} fail**"
    return line


def _torch_tables(page):
    """Per class: PyTorch's inputs run, passed, skipped (with reasons), failed."""
    tables = _table_results()
    if not tables:
        return "No byhand class has an entry in PyTorch's tables yet."
    registry = {r["name"]: r["page"] for r in _results()}
    lines = [
        "| class | page | PyTorch's table | inputs | runs | passed | skipped | failed "
        "| largest error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for key in dict.fromkeys((r["table"], r["name"]) for r in tables):
        rows = [r for r in tables if (r["table"], r["name"]) == key]
        counts = _table_counts(rows)
        own_page = registry.get(_registry_name(rows[0]))
        shown_page = _page_link(page, own_page) if own_page else "—"
        worst = _worst([r for r in rows if r["status"] == "pass"])
        failed = f"**{counts['fail']}**" if counts["fail"] else "0"
        lines.append(
            f"| `{key[1]}` | {shown_page} | `{key[0]}` | {len(set(r['desc'] for r in rows))} "
            f"| {len(rows)} "
            f"| {counts['pass']} | {counts['skip']} | {failed} | {_fmt(worst)} |"
        )
        for status, verb in (("fail", "**fails**"), ("skip", "skipped")):
            reasons = {}
            for r in rows:
                if r["status"] == status:
                    reasons.setdefault(r["reason"], []).append(f"{r['desc']} ({r['mode']})")
            for reason, where in reasons.items():
                shown = ", ".join(where[:4]) + (
                    f" and {len(where) - 4} more" if len(where) > 4 else ""
                )
                reason = reason.replace("`", "'")
                notes.append(f"- `{key[1]}` {verb} on {len(where)}: `{reason}` — {shown}")
    head = (
        f"**{_tables_line(tables)}** — PyTorch {tables[0]['torch']}, float64 on the CPU, "
        "measured by this build."
    )
    parts = [head, "\n".join(lines)]
    if notes:
        parts.append(
            "Skipped and failed runs, with the reason each gave:\n\n" + "\n".join(notes)
        )
    else:
        parts.append("No run was skipped and none failed.")
    return "\n\n".join(parts)


def _worst(results):
    """The largest absolute error over every quantity of these results."""
    return max((v for r in results for v in r["max_abs_err"].values()), default=0.0)


def _fmt(err):
    return "0" if err == 0 else f"{err:.1e}"


def _group_errors(result):
    """Worst error per column group of one result; None where the result has no such quantity."""
    out = {}
    for title, belongs in GROUPS:
        errors = [v for q, v in result["max_abs_err"].items() if belongs(q)]
        out[title] = max(errors) if errors else None
    return out


def _status(result):
    return "pass" if result["passed"] else "**FAIL**: " + "; ".join(result["failures"])


def _same_measurement(a, b):
    """Two results that measured exactly the same thing (train vs eval of a mode-free block)."""
    keys = ("max_abs_err", "passed", "failures", "gradcheck")
    return all(a[k] == b[k] for k in keys)


def _rows(results):
    """``(mode label, result)`` per table row: a train row and an eval row of the same case that
    measured identical errors collapse into one row, ``train = eval``."""
    rows, used = [], set()
    for i, r in enumerate(results):
        if i in used:
            continue
        twin = next(
            (
                j
                for j, other in enumerate(results)
                if j > i
                and j not in used
                and other["case"] == r["case"]
                and {r["mode"], other["mode"]} == {"train", "eval"}
            ),
            None,
        )
        if twin is not None and _same_measurement(r, results[twin]):
            used.add(twin)
            rows.append(("train = eval", r))
        else:
            rows.append((r["mode"], r))
    return rows


def _table(results):
    grouped = [_group_errors(r) for r in results]
    columns = [title for title, _ in GROUPS if any(g[title] is not None for g in grouped)]
    has_gradcheck = any(r["gradcheck"] is not None for r in results)
    head = ["case", "mode", *columns] + (["gradcheck"] if has_gradcheck else []) + ["status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode, r in _rows(results):
        g = _group_errors(r)
        cells = [r["case"], mode]
        cells += [_fmt(g[c]) if g[c] is not None else "—" for c in columns]
        if has_gradcheck:
            cells.append({True: "pass", False: "fail", None: "—"}[r["gradcheck"]])
        cells.append(_status(r))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _latex_number(x):
    """``1e-12`` as ``10^{-12}``, ``2.5e-07`` as ``2.5 \\cdot 10^{-7}``."""
    mantissa, exponent = f"{x:.1e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1.0" else f"{mantissa.rstrip('0').rstrip('.')} \\cdot {power}"


def _environment(results):
    r = results[0]
    return (
        f"device `{r['device']}`, dtype `{r['dtype']}`, torch `{r['torch']}`, "
        f"Python `{platform.python_version()}`; a value passes when "
        f"$|\\text{{ours}} - \\text{{theirs}}| \\le {_latex_number(r['atol'])} + "
        f"{_latex_number(r['rtol'])}\\,|\\text{{theirs}}|$ element-wise"
    )


def _tables_for(names):
    """PyTorch's table runs of the classes behind these registry names."""
    return [r for r in _table_results() if _registry_name(r) in names]


def _box(names, results, page_src):
    """One "Checked against" box for one entry, or for a family: ``names`` space-separated."""
    names = names.split()
    rows = [r for r in results if r["name"] in names]
    for name in names:
        if not any(r["name"] == name for r in rows):
            log.warning(
                "%s: <!-- byhand:checked %s --> names no registry entry", page_src, name
            )
            return ""
    _state["boxed"].update(names)
    worst = _worst(rows)
    tables = _tables_for(names)
    ok = all(r["passed"] for r in rows) and not any(r["status"] == "fail" for r in tables)
    kind = "success" if ok else "failure"
    references = list(dict.fromkeys(r["reference"] for r in rows))
    shown = ", ".join(f"`{ref}`" for ref in references)
    failed = sum(not r["passed"] for r in rows)
    verdict = (
        f"Matches {shown} in all {len(rows)} checks; largest absolute error {_fmt(worst)}."
        if not failed
        else f"Does **not** match {shown}: {failed} of {len(rows)} checks fail."
    )
    parts = [verdict, f"Measured by this build: {_environment(rows)}."]
    if tables:
        table_names = ", ".join(sorted({f"`{r['table']}`" for r in tables}))
        parts.append(
            f"PyTorch's own test inputs ({table_names}, "
            f"[every run]({_relative_link(page_src, 'verification.md')}"
            "#pytorchs-own-test-inputs)): "
            f"{_tables_line(tables)}."
        )
    exported = [name for name in names if is_block(name)]
    files = ", ".join(
        f"[`{name}.py`]({_relative_link(page_src, f'standalone/{name}.py')})"
        for name in exported
    )
    if exported:
        parts.append(
            f"Standalone ({'one file each' if len(exported) > 1 else 'one file'}, needs only "
            f"PyTorch, written by `byhand export NAME`): {files}."
        )
    for name in names:
        own = [r for r in rows if r["name"] == name]
        if len(names) > 1:
            parts.append(f"**`{name}`** against `{own[0]['reference']}`")
        parts.append(_table(own))
    body = "\n\n".join(parts)
    if len(names) > 1:
        title = f"Checked against PyTorch: {len(names)} blocks"
    elif rows[0]["kind"] == "twin":
        title = f"Checked against PyTorch: {references[0]}"
    else:
        title = f"Checked against an oracle: {references[0]}"
    indented = "\n".join(("    " + line) if line else "" for line in body.splitlines())
    return f'!!! {kind} "{title}"\n\n' + indented


def _summary(results, page):
    """One row per block: reference, kind, checks, largest error, PyTorch's inputs, status."""
    lines = [
        "| block | re-creates | kind | checks | largest error | PyTorch's inputs | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        worst = _worst(rows)
        tables = _tables_for({name})
        table_counts = _table_counts(tables)
        failed = sum(not r["passed"] for r in rows) + table_counts["fail"]
        link = _relative_link(page.file.src_uri, rows[0]["page"])
        status = "pass" if not failed else f"**FAIL** ({failed} failing)"
        inputs = f"{table_counts['pass']} / {len(tables)}" if tables else "—"
        reference, kind = rows[0]["reference"], rows[0]["kind"]
        lines.append(
            f"| [`{name}`]({link}) | `{reference}` | {kind} | {len(rows)} | {_fmt(worst)} "
            f"| {inputs} | {status} |"
        )
    passed = sum(r["passed"] for r in results)
    tables = _table_results()
    verification = _relative_link(page.file.src_uri, "verification.md")
    head = (
        f"**{passed} of {len(results)} checks pass** — measured by this build: "
        f"{_environment(results)}."
    )
    if tables:
        head += (
            f" PyTorch's own test inputs (`module_db`, `optim_db`; "
            f"[every run]({verification}#pytorchs-own-test-inputs)): **{_tables_line(tables)}**"
            " — the column *PyTorch's inputs* counts passing runs per block."
        )
    return head + "\n\n" + "\n".join(lines)


def _counts(results, page):
    """One sentence: how many blocks, how many of their checks pass, PyTorch's inputs."""
    blocks = len(dict.fromkeys(r["name"] for r in results))
    twins = len(dict.fromkeys(r["name"] for r in results if r["kind"] == "twin"))
    passed = sum(r["passed"] for r in results)
    verification = _relative_link(page.file.src_uri, "verification.md")
    line = (
        f"**{blocks} blocks** ({twins} against a PyTorch twin, {blocks - twins} against an "
        f"oracle); **{passed} of {len(results)} checks pass** in this build "
        f"([every check]({verification}))"
    )
    tables = _table_results()
    if tables:
        line += f"; PyTorch's own test inputs: {_tables_line(tables)}"
    return line + "."


def _verification_page(results, page):
    parts = [
        _summary(results, page),
        "## Every check",
        "Where a block's train and eval runs of a case measured exactly the same errors, one "
        "row stands for both: its mode reads *train = eval*.",
    ]
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        parts += [
            f"### `{name}`",
            f"Against `{rows[0]['reference']}` ({rows[0]['kind']}); "
            f"page: {_page_link(page, rows[0]['page'])}.",
            _table(rows),
        ]
    return "\n\n".join(parts)


def _relative_link(from_uri, to_uri):
    depth = from_uri.count("/")
    return "../" * depth + to_uri


def _expand(markdown, page):
    results = _results()

    def replace(match):
        what, arg = match.group(1), match.group(2)
        if what == "verification":
            return _verification_page(results, page)
        if what == "torch-tables":
            return _torch_tables(page)
        if what == "summary":
            return _summary(results, page)
        if what == "counts":
            return _counts(results, page)
        return _box(arg, results, page.file.src_uri)

    return MARKER.sub(replace, markdown)


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def on_page_markdown(markdown, page, config, files):
    """The markers expanded; under ``mkdocs serve`` a page whose Markdown, measured results
    and page titles did not change is given its last expansion (and its warnings) again."""
    if "byhand:" not in markdown:
        return markdown
    if not caching():
        return _expand(markdown, page)
    _results()
    if "inputs" not in _state:
        titles = sorted(_state.get("titles", {}).items())
        _state["inputs"] = digest(
            _state["step"].output(), _state["tables_step"].output(), titles
        )
    known, key = kept("verification"), digest(markdown, _state["inputs"])
    if known.get(page.file.src_uri, (None,))[0] != key:
        recorder = _Recorder()
        log.addHandler(recorder)
        try:
            before = set(_state["boxed"])
            expanded = _expand(markdown, page)
        finally:
            log.removeHandler(recorder)
        known[page.file.src_uri] = (key, expanded, _state["boxed"] - before, recorder.records)
        return expanded
    _, expanded, boxed, records = known[page.file.src_uri]
    _state["boxed"].update(boxed)
    for record in records:
        log.handle(record)
    return expanded


def on_post_build(config):
    results = _results()
    _table_results()  # a failing input warns even if no page shows the table
    for r in results:
        if r["name"] not in _state["boxed"]:
            log.warning(
                "registry entry %s has no <!-- byhand:checked %s --> box on %s",
                r["name"],
                r["name"],
                r["page"],
            )
            _state["boxed"].add(r["name"])
