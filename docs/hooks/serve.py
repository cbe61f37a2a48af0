"""``mkdocs serve`` only: build-time results from the disk cache, pages rendered once.

``on_startup`` learns the command: under ``serve`` the build steps of the other hooks reuse
results cached in ``.cache/byhand-build/`` (``_subprocess``); ``mkdocs build`` computes all of
them afresh. The server re-creates the theme's template environment on every rebuild; the
compiled templates are kept in memory across rebuilds so a prose edit re-renders quickly.

Under ``serve`` the Markdown rendering of each page and its search-index entries are also kept
in memory, keyed by the page's Markdown and a digest of everything an include can read (``src/``,
``benchmarks/``, the hooks, ``mkdocs.yml``) and of the site's file list: after a prose edit only
the edited page is converted and indexed again, and the theme's template fills in only the pages
whose HTML, title, table of contents or nav changed (``_RenderOnce``). ``mkdocs build`` never uses
any of this.
"""

import copy
import hashlib
from pathlib import Path

import jinja2
import mkdocs
from _subprocess import caching, use_cache
from mkdocs.structure.pages import Page


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the server's lifetime, keyed by template source."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_templates = _MemoryBytecodeCache()


ROOT = Path(__file__).resolve().parents[2]
# Kept on the mkdocs module: the server re-imports hook files on every rebuild.
_store = mkdocs.__dict__.setdefault("_byhand_serve_store", {})
for _name in ("renders", "search", "pages"):
    _store.setdefault(_name, {})


def _inputs_digest(files):
    """What an include or a link can depend on, besides the page's own Markdown."""
    digest = hashlib.sha256()
    for folder in ("src", "benchmarks", "docs/hooks"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    digest.update((ROOT / "mkdocs.yml").read_bytes())
    digest.update("\n".join(sorted(f.src_uri for f in files)).encode())
    return digest.hexdigest()


class _Registrations:
    """What converting a page registers besides its HTML, to register it again when the
    conversion is reused: the anchors autorefs links to (mkdocstrings' headings and their
    aliases), mkdocstrings' inventory entries (``objects.inv``) and the handlers it used
    (whose CSS it writes). Without them a reused API page loses its cross-references."""

    def __init__(self, config):
        self.autorefs = config.plugins.get("autorefs") if config is not None else None
        strings = config.plugins.get("mkdocstrings") if config is not None else None
        self.handlers = getattr(strings, "_handlers", None)

    def record(self, render, page, config, files):
        """``render(page, config, files)``; returns what it registered."""
        anchors, entries = [], []
        targets = []
        if self.autorefs is not None:
            targets.append((self.autorefs, "register_anchor", anchors))
        if self.handlers is not None:
            targets.append((self.handlers.inventory, "register", entries))
        for owner, name, calls in targets:
            original = getattr(owner, name)

            def recording(*args, _original=original, _calls=calls, **kwargs):
                _calls.append((args, kwargs))
                return _original(*args, **kwargs)

            setattr(owner, name, recording)
        seen = set(getattr(self.handlers, "_handlers", ()))
        try:
            render(page, config, files)
        finally:
            for owner, name, _ in targets:
                delattr(owner, name)  # the class's method again
        used = set(getattr(self.handlers, "_handlers", ())) - seen
        anchors = [(args[1:], kwargs) for args, kwargs in anchors]  # without the page
        return anchors, entries, sorted(used)

    def replay(self, page, registered):
        anchors, entries, used = registered
        if self.autorefs is not None:
            for args, kwargs in anchors:
                self.autorefs.register_anchor(page, *args, **kwargs)
        if self.handlers is not None:
            for name in used:
                self.handlers.get_handler(name)
            for args, kwargs in entries:
                self.handlers.inventory.register(*args, **kwargs)


def _render_once(render):
    """``Page.render`` that reuses the last result for the same Markdown and inputs."""

    def render_cached(page, config, files):
        if not caching():
            return render(page, config, files)
        key = (page.file.src_uri, hashlib.sha256(page.markdown.encode()).hexdigest())
        key += (_store.get("digest"),)
        hit = _store["renders"].get(key)
        registrations = _Registrations(config)
        if hit is None:
            registered = registrations.record(render, page, config, files)
            links = {f.src_uri: v for f, v in (page.links_to_anchors or {}).items()}
            hit = (page.content, page.toc, page._title_from_render, page.present_anchor_ids)
            _store["renders"][key] = hit = (*hit, links, registered)
            return None
        page.content, page.toc, page._title_from_render, page.present_anchor_ids = hit[:4]
        links, registered = hit[4:]
        page.links_to_anchors = {files.get_file_from_path(uri): v for uri, v in links.items()}
        registrations.replay(page, registered)
        return None

    render_cached.byhand_cached = True
    return render_cached


def _index_once(add_entry):
    """Material's ``add_entry_from_context`` reusing a page's entries for the same HTML."""

    def add_entry_cached(index, page):
        if not caching():
            return add_entry(index, page)
        key = (page.url, hashlib.sha256(page.content.encode()).hexdigest(), repr(page.meta))
        hit = _store["search"].get(key)
        if hit is None:
            start = len(index.entries)
            add_entry(index, page)
            _store["search"][key] = copy.deepcopy(index.entries[start:])
        else:
            index.entries.extend(copy.deepcopy(hit))
        return None

    add_entry_cached.byhand_cached = True
    return add_entry_cached


def _nav_lines(items, depth=0):
    """Every nav entry's kind, title and URL, indented: what the sidebar and footer show."""
    for item in items:
        url = getattr(item, "url", "")
        yield f"{'  ' * depth}{type(item).__name__} {item.title!r} {url}"
        yield from _nav_lines(getattr(item, "children", None) or [], depth + 1)


class _RenderOnce:
    """A page template that renders a page again only when what it shows changed.

    A page's HTML file is the theme template filled with the page (its HTML, table of contents,
    title, metadata, URL) and the nav (every title and URL); the rest comes from mkdocs.yml
    (in ``_inputs_digest``) and the installed theme (fixed while the server runs). The key holds
    all of it, so a prose edit fills the edited page again (every page, if its title, hence the
    nav, changed).
    """

    def __init__(self, template):
        self.template = template

    def __getattr__(self, name):
        return getattr(self.template, name)

    def render(self, context):
        page = context.get("page")
        if page is None or context.get("nav") is None:
            return self.template.render(context)
        nav = context["nav"]
        if _store.get("nav") is None or _store["nav"][0] is not nav:
            _store["nav"] = (nav, "\n".join(_nav_lines(nav.items)))
        key = (
            self.template.name,
            page.url,
            hashlib.sha256(page.content.encode()).hexdigest(),
            str(page.toc),
            repr(page.meta),
            page.title,
            context.get("base_url"),
            _store["nav"][1],
            _store.get("digest"),
        )
        hit = _store["pages"].get(page.url)
        if hit is None or hit[0] != key:
            hit = _store["pages"][page.url] = (key, self.template.render(context))
        return hit[1]


def on_startup(command, dirty):
    use_cache(command)
    if command != "serve":
        return
    if not getattr(Page.render, "byhand_cached", False):
        Page.render = _render_once(Page.render)
    try:
        from material.plugins.search.plugin import SearchIndex
    except ImportError:  # another theme: only the rendering is cached
        return
    if not getattr(SearchIndex.add_entry_from_context, "byhand_cached", False):
        SearchIndex.add_entry_from_context = _index_once(SearchIndex.add_entry_from_context)


def on_files(files, config):
    if caching():
        _store["digest"] = _inputs_digest(files)
    return files


def on_env(env, config, files):
    if caching():
        env.bytecode_cache = _templates
        get_template = env.get_template
        env.get_template = lambda *args, **kwargs: _RenderOnce(get_template(*args, **kwargs))
    return env
