"""Write the measured parity checks into the site.

``on_pre_build`` starts ``python -m byhand.verify --json`` (the same command a reader runs) in a
child process. Pages then get, in place of these markers:

* ``<!-- byhand:verification -->`` — the full table (Verification page);
* ``<!-- byhand:summary -->`` — one row per block, linking to its page (landing page);
* ``<!-- byhand:checked NAME -->`` — a "Checked against PyTorch" box for registry entry NAME;
  ``<!-- byhand:checked NAME1 NAME2 ... -->`` one box for a family (one environment line).

Every number in those tables comes from that run. A failing check, an unknown NAME, or a
registry entry whose page carries no box is a warning, and the strict build stops on it.
"""

import json
import logging
import platform
import re

from _subprocess import Step

log = logging.getLogger("mkdocs.hooks.verification")
MARKER = re.compile(r"<!--\s*byhand:(verification|summary|checked)\s*([^>]*?)\s*-->")
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
    _state["step"] = Step("python -m byhand.verify --json", "-m", "byhand.verify", "--json")


def _results():
    if "results" not in _state:
        results = json.loads(_state["step"].output(ok_codes=(0, 1)))
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


def _table(results):
    grouped = [_group_errors(r) for r in results]
    columns = [title for title, _ in GROUPS if any(g[title] is not None for g in grouped)]
    has_gradcheck = any(r["gradcheck"] is not None for r in results)
    head = ["case", "mode", *columns] + (["gradcheck"] if has_gradcheck else []) + ["status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, g in zip(results, grouped):
        cells = [r["case"], r["mode"]]
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
        f"device `{r['device']}`, dtype `{r['dtype']}`, torch `{r['torch']}`, Python `{platform.python_version()}`; "
        f"a value passes when $|\\text{{ours}} - \\text{{theirs}}| \\le {_latex_number(r['atol'])} + "
        f"{_latex_number(r['rtol'])}\\,|\\text{{theirs}}|$ element-wise"
    )


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
    ok = all(r["passed"] for r in rows)
    kind = "success" if ok else "failure"
    references = list(dict.fromkeys(r["reference"] for r in rows))
    shown = ", ".join(f"`{ref}`" for ref in references)
    verdict = (
        f"Matches {shown} in all {len(rows)} checks; largest absolute error {_fmt(worst)}."
        if ok
        else f"Does **not** match {shown}: {sum(not r['passed'] for r in rows)} of {len(rows)} "
        "checks fail."
    )
    parts = [verdict, f"Measured by this build: {_environment(rows)}."]
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
    """One row per block: reference, kind, number of checks, largest error, status."""
    lines = [
        "| block | re-creates | kind | checks | largest error | status |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        worst = _worst(rows)
        failed = sum(not r["passed"] for r in rows)
        link = _relative_link(page.file.src_uri, rows[0]["page"])
        status = "pass" if not failed else f"**FAIL** ({failed} failing)"
        reference, kind = rows[0]["reference"], rows[0]["kind"]
        lines.append(
            f"| [`{name}`]({link}) | `{reference}` | {kind} | {len(rows)} | {_fmt(worst)} | {status} |"
        )
    passed = sum(r["passed"] for r in results)
    head = f"**{passed} of {len(results)} checks pass** — measured by this build: {_environment(results)}."
    return head + "\n\n" + "\n".join(lines)


def _verification_page(results, page):
    parts = [_summary(results, page), "## Every check"]
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        link = _relative_link(page.file.src_uri, rows[0]["page"])
        parts += [
            f"### `{name}`",
            f"Against `{rows[0]['reference']}` ({rows[0]['kind']}); page: [{rows[0]['page']}]({link}).",
            _table(rows),
        ]
    return "\n\n".join(parts)


def _relative_link(from_uri, to_uri):
    depth = from_uri.count("/")
    return "../" * depth + to_uri


def on_page_markdown(markdown, page, config, files):
    if "byhand:" not in markdown:
        return markdown
    results = _results()

    def replace(match):
        what, arg = match.group(1), match.group(2)
        if what == "verification":
            return _verification_page(results, page)
        if what == "summary":
            return _summary(results, page)
        return _box(arg, results, page.file.src_uri)

    return MARKER.sub(replace, markdown)


def on_post_build(config):
    results = _results()
    for r in results:
        if r["name"] not in _state["boxed"]:
            log.warning(
                "registry entry %s has no <!-- byhand:checked %s --> box on %s",
                r["name"],
                r["name"],
                r["page"],
            )
            _state["boxed"].add(r["name"])
