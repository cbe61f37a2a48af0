"""Site-wide build checks.

* Math renders offline from a KaTeX copy in ``docs/vendor/katex`` (gitignored). When it is
  missing, the build fetches it from the npm registry with ``npm pack`` (unpacked into a temporary
  folder, then renamed into place); without npm it stops with a clear message.
* No page may show an include line that was not expanded (a mangled ``--8<--`` shows up as text).
* Every internal link and anchor on every built page resolves: a link to a file the site does not
  have, or to an ``#anchor`` its page does not define, is a warning (the strict build stops).
"""

import functools
import html
import logging
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from _subprocess import digest, kept
from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.checks")
KATEX_VERSION = "0.19.1"
REQUIRED = (
    "katex.min.js",
    "katex.min.css",
    "contrib/auto-render.min.js",
    "fonts/KaTeX_Main-Regular.woff2",
)
UNEXPANDED_INCLUDE = re.compile(r"--8\s*(?:&lt;|<)\s*--")
LINK = re.compile(r"""<(\w+)\b[^>]*?\s(?:href|src)\s*=\s*(["'])(.*?)\2""", re.S)
ANCHOR = re.compile(r"""\s(?:id|name)\s*=\s*(["'])(.*?)\1""")
_pages = {}


# --- KaTeX ------------------------------------------------------------------------------------
def _katex_ok(vendor):
    other_versions = [
        p for p in vendor.glob(".version-*") if p.name != f".version-{KATEX_VERSION}"
    ]
    return not other_versions and all((vendor / name).is_file() for name in REQUIRED)


def _wanted(member):
    """The path under dist/ of a tarball member the site serves, or None."""
    name = member.name.removeprefix("package/dist/")
    if name == member.name or ".." in name.split("/") or not member.isfile():
        return None
    if name in REQUIRED[:3] or (name.startswith("fonts/") and "/" not in name[6:]):
        return name
    return None


def fetch_katex(vendor):
    """``npm pack katex@KATEX_VERSION``, unpack what the site serves, rename it into ``vendor``."""
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError(
            f"KaTeX is missing from {vendor} and npm is not installed: install npm (the build "
            f"then fetches katex@{KATEX_VERSION} from the npm registry), or unpack the katex "
            f"package's dist/ folder (katex.min.js, katex.min.css, contrib/, fonts/) there. "
            "Math is rendered offline from that copy, never from a CDN."
        )
    vendor.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="katex-", suffix=".tmp", dir=vendor.parent))
    try:
        packed = subprocess.run(
            [npm, "pack", "--silent", f"katex@{KATEX_VERSION}"],
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        tarball = tmp / f"katex-{KATEX_VERSION}.tgz"
        if packed.returncode != 0 or not tarball.is_file():
            raise PluginError(
                f"KaTeX is missing from {vendor} and `npm pack katex@{KATEX_VERSION}` failed "
                f"(exit {packed.returncode}):\n{packed.stderr.strip()}"
            )
        unpacked = tmp / "katex"
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                name = _wanted(member)
                if name:
                    target = unpacked / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())
        (unpacked / f".version-{KATEX_VERSION}").touch()
        if not _katex_ok(unpacked):
            raise PluginError(f"katex@{KATEX_VERSION} from npm lacks one of {REQUIRED}")
        if vendor.exists():
            shutil.rmtree(vendor)
        unpacked.rename(vendor)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("fetched katex@%s from the npm registry into %s", KATEX_VERSION, vendor)


def on_config(config):
    vendor = Path(config["docs_dir"]) / "vendor" / "katex"
    if not _katex_ok(vendor):
        fetch_katex(vendor)
    return config


# --- pages ------------------------------------------------------------------------------------
def on_pre_build(config):
    _pages.clear()


def on_page_content(html_text, page, config, files):
    if UNEXPANDED_INCLUDE.search(html_text):
        log.warning(
            '%s shows an include line that was not expanded (--8<-- "src/...")',
            page.file.src_uri,
        )
    return html_text


def on_post_page(output, page, config):
    # under `mkdocs serve`, a page whose HTML did not change is not scanned again
    dest, known, key = page.file.dest_uri, kept("links"), digest(output)
    if known.get(dest, (None,))[0] != key:
        anchors = {html.unescape(m.group(2)) for m in ANCHOR.finditer(output)}
        links = [(m.group(1), html.unescape(m.group(3))) for m in LINK.finditer(output)]
        known[dest] = (key, anchors, links)
    _pages[dest] = (page.file.src_uri, *known[dest][1:])
    return output


@functools.lru_cache(maxsize=1 << 16)  # a pure function of its arguments
def _target(dest, url):
    """The site path and anchor an internal link points at; None for an external one."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return None
    path = unquote(parts.path)
    if not path:
        return dest, parts.fragment
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(dest), path))
    if path.endswith("/") or resolved == ".":
        resolved = posixpath.join(resolved, "index.html")
    return resolved.removeprefix("./"), parts.fragment


def _site_paths(site_dir):
    """The files and the folders of the built site, as paths relative to it."""
    files, folders = set(), set()
    for folder, subfolders, names in os.walk(site_dir):
        relative = os.path.relpath(folder, site_dir).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        folders.update(prefix + name for name in subfolders)
        files.update(prefix + name for name in names)
    return files, folders


def broken_links(site_dir):
    """``(page, link, why)`` for every internal link of a built page that does not resolve."""
    site_files, site_folders = _site_paths(site_dir)
    broken = []
    for dest, (src, _, links) in _pages.items():
        for tag, url in links:
            target = _target(dest, url)
            if target is None:
                continue
            path, anchor = target
            if path.startswith("../"):
                broken.append((src, url, "points outside the site"))
                continue
            if path in site_folders:
                path = posixpath.join(path, "index.html")
            if path not in site_files:
                broken.append((src, url, f"no file {path} in the site"))
            elif anchor and tag == "a":
                page = _pages.get(path)
                if page is not None and anchor not in page[1]:
                    broken.append((src, url, f"{page[0]} has no anchor #{anchor}"))
    return broken


def on_post_build(config):
    for src, url, why in broken_links(config["site_dir"]):
        log.warning("%s: broken link %s (%s)", src, url, why)


if __name__ == "__main__":  # `make assets`: the KaTeX copy ahead of the build
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = Path(__file__).resolve().parents[1] / "vendor" / "katex"
    if not _katex_ok(target):
        fetch_katex(target)
    print(f"katex@{KATEX_VERSION} in {target}")
