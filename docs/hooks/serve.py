"""``mkdocs serve`` only: build-time results from the disk cache, pages rendered once.

``on_startup`` learns the command: under ``serve`` the build steps of the other hooks reuse
results cached in ``.cache/byhand-build/`` (``_subprocess``); ``mkdocs build`` computes all of
them afresh. The server re-creates the theme's template environment on every rebuild; the
compiled templates are kept in memory across rebuilds so a prose edit re-renders quickly.

Under ``serve`` the Markdown rendering of each page and its search-index entries are also kept
in memory, keyed by the page's Markdown and a digest of everything an include can read (``src/``,
``benchmarks/``, the hooks, ``mkdocs.yml``) and of the site's file list: after a prose edit only
the edited page is converted and indexed again. ``mkdocs build`` never uses any of this.
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
_store = mkdocs.__dict__.setdefault("_byhand_serve_store", {"renders": {}, "search": {}})


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


def _render_once(render):
    """``Page.render`` that reuses the last result for the same Markdown and inputs."""

    def render_cached(page, config, files):
        if not caching():
            return render(page, config, files)
        key = (page.file.src_uri, hashlib.sha256(page.markdown.encode()).hexdigest())
        key += (_store.get("digest"),)
        hit = _store["renders"].get(key)
        if hit is None:
            render(page, config, files)
            links = {f.src_uri: v for f, v in (page.links_to_anchors or {}).items()}
            hit = (page.content, page.toc, page._title_from_render, page.present_anchor_ids)
            _store["renders"][key] = hit = (*hit, links)
            return None
        page.content, page.toc, page._title_from_render, page.present_anchor_ids, links = hit
        page.links_to_anchors = {files.get_file_from_path(uri): v for uri, v in links.items()}
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
    return env
