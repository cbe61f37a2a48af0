"""Build checks that the site teaches: a learning path, linked pages, references, prose first.

* **The learning path** (``extra.learning_path`` in mkdocs.yml): every page on it is in the nav,
  in nav order; the first trained model comes within ``first_model_within`` pages; and no page
  on it lists in its *Prerequisites* a page the path has not yet reached (the classic track,
  ``beside``, is the other route and counts as reached).
* **Links**: a teaching page (``TEACHING`` folders) links to at least one other page.
* **References**: a block page (one with a ``<!-- byhand:checked ... -->`` box) has a
  *References* section with at least one external link (the paper).
* **Visible code share**: code characters shown (``<pre>`` blocks outside collapsed ``???``
  details) over all text characters shown, whitespace not counted; a teaching page above
  ``code_share_max`` fails. Every page's numbers go to ``site/code-share.json`` and one
  summary line is printed.

``extra.teaching_checks.enforce`` (mkdocs.yml) turns the findings into warnings (the strict build
stops on them); off, they are printed as information only. The path check always warns.
"""

import html.parser
import json
import logging
import os
import posixpath
import re
import tempfile
from pathlib import Path

from _subprocess import digest, kept

log = logging.getLogger("mkdocs.hooks.teaching")
TEACHING = (
    "modules/",
    "activations/",
    "losses/",
    "optim/",
    "classic/",
    "training/",
    "case-studies/",
)
MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SECTION = re.compile(r"^(#{2,3})\s+(.*?)\s*#*\s*$", re.M)
CHECKED = re.compile(r"<!--\s*byhand:checked\b")
_state = {}


def is_teaching(src_uri):
    return src_uri.endswith(".md") and src_uri.startswith(TEACHING)


# --- Markdown: links, prerequisites, references -----------------------------------------------
def section(markdown, title):
    """The text of the ``## title`` section (up to the next heading of the same or higher
    level), or of a paragraph starting ``**title**``; None when the page has neither."""
    for match in SECTION.finditer(markdown):
        if match.group(2).strip().lower() == title.lower():
            level = len(match.group(1))
            rest = markdown[match.end() :]
            end = re.search(rf"^#{{1,{level}}}\s", rest, re.M)
            return rest[: end.start()] if end else rest
    bold = re.search(
        rf"^\*\*{re.escape(title)}\*\*:?(.*?)(?:\n\s*\n|\Z)", markdown, re.M | re.S
    )
    return bold.group(1) if bold else None


def page_links(markdown, src_uri):
    """The other pages (source paths) that ``markdown`` links to."""
    found = []
    for url in MD_LINK.findall(markdown):
        path = url.split("#", 1)[0].split("?", 1)[0]
        if not path or "://" in url or url.startswith(("mailto:", "//")):
            continue
        if not path.endswith((".md", ".ipynb", "/")):
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), path))
        if path.endswith("/"):
            target = posixpath.join(target, "index.md")
        if target != src_uri and target not in found:
            found.append(target)
    return found


def external_links(text):
    return [url for url in MD_LINK.findall(text) if re.match(r"https?://", url)]


# --- HTML: visible code share -------------------------------------------------------------------
class _Share(html.parser.HTMLParser):
    """Counts non-blank characters of text and of ``<pre>`` code, outside closed ``<details>``.

    The open elements are kept on a stack; counters of the open ``script``/``style``, ``pre``
    and closed ``details`` among them answer "am I inside one" without walking the stack."""

    VOID = {"br", "img", "hr", "input", "meta", "link", "source", "wbr", "col", "area"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.code, self.hidden_code = [], 0, 0, 0
        self.inside = {"skip": 0, "pre": 0, "closed": 0}

    def _kinds(self, tag, closed):
        if tag in ("script", "style"):
            yield "skip"
        elif tag == "pre":
            yield "pre"
        if closed:
            yield "closed"

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        closed = tag == "details" and not any(name == "open" for name, _ in attrs)
        self.stack.append((tag, closed))
        for kind in self._kinds(tag, closed):
            self.inside[kind] += 1

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for open_tag, closed in self.stack[i:]:
                    for kind in self._kinds(open_tag, closed):
                        self.inside[kind] -= 1
                del self.stack[i:]
                return

    def handle_data(self, data):
        inside = self.inside
        if inside["skip"]:
            return
        count = len("".join(data.split()))
        if not count:
            return
        if inside["closed"]:
            self.hidden_code += count if inside["pre"] else 0
            return
        self.text += count
        self.code += count if inside["pre"] else 0


def code_share(html_text):
    """``(visible code chars, visible text chars, folded code chars)`` of a page's HTML."""
    parser = _Share()
    parser.feed(html_text)
    parser.close()
    return parser.code, parser.text, parser.hidden_code


# --- the learning path --------------------------------------------------------------------------
def nav_order(nav_items):
    """Source paths of the nav's pages, in reading order."""
    order = []
    for item in nav_items:
        children = getattr(item, "children", None)
        if children:
            order += nav_order(children)
        elif getattr(item, "file", None) is not None:
            order.append(item.file.src_uri)
    return order


def path_problems(path, order, prerequisites):
    """What is wrong with the learning ``path`` (``extra.learning_path``) against the nav
    ``order`` and each page's ``prerequisites`` (``{page: [pages]}``): a list of sentences."""
    pages, beside = list(path.get("pages", [])), set(path.get("beside", []))
    first, within = path.get("first_model"), int(path.get("first_model_within", 5))
    problems = []
    for page in pages + sorted(beside):
        if page not in order:
            problems.append(f"learning path: {page} is not in the nav")
    positions = [order.index(p) for p in pages if p in order]
    if positions != sorted(positions):
        problems.append("learning path: its pages are not in nav order: " + " → ".join(pages))
    if first not in pages:
        problems.append(f"learning path: the first trained model {first} is not on it")
    elif pages.index(first) + 1 > within:
        problems.append(
            f"learning path: the first trained model {first} is page "
            f"{pages.index(first) + 1}, more than {within}"
        )
    reached = set(beside) | {"index.md"}
    for page in pages:
        for needed in prerequisites.get(page, []):
            if needed not in reached:
                later = "later on the path" if needed in pages else "nowhere on the path"
                problems.append(
                    f"learning path: {page} lists {needed} under Prerequisites, which the "
                    f"path introduces {later}"
                )
        reached.add(page)
    return problems


# --- hooks ------------------------------------------------------------------------------------
def on_config(config):
    extra = config.get("extra") or {}
    settings = extra.get("teaching_checks") or {}
    _state["enforce"] = bool(settings.get("enforce", True))
    _state["max_share"] = float(settings.get("code_share_max", 0.5))
    _state["path"] = extra.get("learning_path") or {}
    return config


def on_pre_build(config):
    _state.update(pages={}, prerequisites={}, findings=[])


def on_nav(nav, config, files):
    _state["order"] = nav_order(nav.items)
    return nav


def _finding(message):
    _state["findings"].append(message)


def on_page_markdown(markdown, page, config, files):
    src = page.file.src_uri
    prerequisites = section(markdown, "Prerequisites")
    _state["prerequisites"][src] = page_links(prerequisites or "", src)
    if is_teaching(src) and not page_links(markdown, src):
        _finding(f"{src}: a teaching page that links to no other page")
    if CHECKED.search(markdown):
        references = section(markdown, "References")
        if references is None:
            _finding(f"{src}: a block page with no References section")
        elif not external_links(references):
            _finding(f"{src}: its References section links to no paper")
    return markdown


def on_page_content(html_text, page, config, files):
    # under `mkdocs serve`, a page whose HTML did not change is not parsed again
    known, key = kept("code-share"), digest(html_text)
    if known.get(page.file.src_uri, (None,))[0] != key:
        known[page.file.src_uri] = (key, code_share(html_text))
    code, text, folded = known[page.file.src_uri][1]
    _state["pages"][page.file.src_uri] = {
        "teaching": is_teaching(page.file.src_uri),
        "visible_code_chars": code,
        "visible_text_chars": text,
        "folded_code_chars": folded,
        "visible_code_share": round(code / text, 4) if text else 0.0,
    }
    return html_text


def on_post_build(config):
    for problem in path_problems(
        _state["path"], _state.get("order", []), _state["prerequisites"]
    ):
        log.warning(problem)
    pages = _state["pages"]
    limit = _state["max_share"]
    for src, row in sorted(pages.items()):
        if row["teaching"] and row["visible_code_share"] > limit:
            _finding(
                f"{src}: {row['visible_code_share']:.0%} of the text shown is code "
                f"(at most {limit:.0%} on a teaching page)"
            )
    teaching = [row["visible_code_share"] for row in pages.values() if row["teaching"]]
    over = sum(share > limit for share in teaching)
    summary = {
        "teaching_pages": len(teaching),
        "over_limit": over,
        "limit": limit,
        "median_share": sorted(teaching)[len(teaching) // 2] if teaching else 0.0,
        "max_share": max(teaching, default=0.0),
    }
    _write(Path(config["site_dir"]) / "code-share.json", {"summary": summary, "pages": pages})
    log.info(
        "visible code share: %d teaching pages, median %.0f%%, max %.0f%%, %d above %.0f%% "
        "(per page: site/code-share.json)",
        len(teaching),
        100 * summary["median_share"],
        100 * summary["max_share"],
        over,
        100 * limit,
    )
    report = log.warning if _state["enforce"] else log.info
    for message in _state["findings"]:
        report(message)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".code-share.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)
