"""Build steps in child processes, cached on disk while ``mkdocs serve`` runs.

A step (the parity run, PyTorch's test tables, the figures, a notebook) runs in a fresh Python
process, so the server always imports the current ``src/``, and steps started together overlap.

Under ``mkdocs serve`` a step's result is kept in ``.cache/byhand-build/`` under a key hashed
from everything it depends on: every file of ``src/``, the files the step names (its script, the
hooks, a notebook), its command line, the Python executable and version and every installed
package's version. A prose edit reuses every result; an edit of ``src/`` recomputes them.
``kept`` holds, in memory, per-page results of the hooks (a page's code share, its links) across
the server's rebuilds, keyed by the page's bytes. ``mkdocs build`` (and so ``make test`` and CI)
never reads or writes the cache and keeps nothing: everything it shows is computed by that
build. ``BYHAND_BUILD_CACHE=0 mkdocs serve`` turns the cache off too.
"""

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "byhand-build"
SKIPPED = {"__pycache__", ".ipynb_checkpoints"}
KEEP = 4  # cached results kept per step
STALE_S = 3600  # an unfinished entry older than this was abandoned

_mode = {"cache": False}
_environment = []


def use_cache(command):
    """Called from ``on_startup``: cache only under ``mkdocs serve``."""
    _mode["cache"] = command == "serve" and os.environ.get("BYHAND_BUILD_CACHE", "1") != "0"


def caching():
    return _mode["cache"]


def kept(name):
    """A dict that lives across the rebuilds of one ``mkdocs serve`` (held by the mkdocs module:
    a hook's own globals may not survive a rebuild), for results keyed by what they depend on.
    Outside ``serve`` a new empty dict on every call: ``mkdocs build`` reuses nothing."""
    if not caching():
        return {}
    import mkdocs

    return mkdocs.__dict__.setdefault("_byhand_serve_store", {}).setdefault(name, {})


def digest(*parts):
    """A short hash of strings or bytes, to key what ``kept`` holds."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update((part if isinstance(part, bytes) else str(part).encode()) + b"\0")
    return hashed.hexdigest()[:32]


def _files(path):
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not SKIPPED.intersection(p.parts)
        and p.suffix != ".pyc"
        and not any(part.endswith(".egg-info") for part in p.parts)
    )


def _environment_lines():
    """Python and every installed distribution's version (read once per process: ~0.4 s)."""
    if not _environment:
        dists = {
            f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
        }
        _environment.extend([sys.executable, sys.version, *sorted(dists)])
    return _environment


def fingerprint(depends, args=()):
    """A hash of every file of ``src/`` and of ``depends``, the arguments and the environment."""
    digest = hashlib.sha256()
    for line in [*_environment_lines(), *map(str, args)]:
        digest.update(line.encode() + b"\0")
    for path in (ROOT / "src", *depends):
        for file in _files(path):
            name = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
            digest.update(name.as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _evict(name, keep=KEEP - 1):
    """Keep the ``keep`` newest entries of a step (an edit and its undo both stay cached)."""
    entries = [p for p in CACHE.glob(f"{name}-*") if p.is_dir() and p.suffix != ".tmp"]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    for tmp in CACHE.glob(f"{name}-*.tmp"):  # left by a server stopped mid-step
        if time.time() - tmp.stat().st_mtime > STALE_S:
            shutil.rmtree(tmp, ignore_errors=True)


class Step:
    """``python ARGS...`` started now and collected later, so build steps overlap.

    ``name`` names its cache entries; an argument ``Step.OUT`` is replaced by a folder the step
    writes its files into (``out_dir``). ``depends``: files or folders besides ``src/`` its
    result depends on. Under ``mkdocs serve`` a step whose key is cached does not run.
    """

    OUT = object()

    def __init__(self, name, description, *args, depends=(), ok_codes=(0,)):
        self.name, self.description, self.ok_codes = name, description, ok_codes
        self.cached = None
        self._stdout = None
        self._tmp = None
        if caching():
            shown = ["OUT" if a is Step.OUT else str(a) for a in args]
            key = fingerprint([HOOKS / "_subprocess.py", *depends], shown)
            self.cached = CACHE / f"{name}-{key}"
            if (self.cached / "stdout").is_file():
                self.out_dir = self.cached / "out"
                self._stdout = (self.cached / "stdout").read_text(encoding="utf-8")
                os.utime(self.cached)  # recently used: evicted last
                self.process = None
                return
            CACHE.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=CACHE, suffix=".tmp"))
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"byhand-{name}-"))
        self.out_dir = self._tmp / "out"
        self.out_dir.mkdir()
        argv = [str(self.out_dir) if a is Step.OUT else str(a) for a in args]
        # Several steps run at once on few cores: one thread each, so they do not fight over
        # the cores (a torch thread pool waits for its slowest thread). OMP_NUM_THREADS set by
        # the caller wins.
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self.process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def output(self):
        """The step's stdout (waiting for it); a ``PluginError`` with its stderr if it failed."""
        if self._stdout is not None:
            return self._stdout
        stdout, stderr = self.process.communicate()
        if self.process.returncode not in self.ok_codes or not stdout.strip():
            self.discard()
            raise PluginError(
                f"{self.description} failed (exit {self.process.returncode}, "
                f"{len(stdout)} characters on stdout):\n{stderr.strip()}"
            )
        self._stdout = stdout
        if self.cached is not None:
            (self._tmp / "stdout").write_text(stdout, encoding="utf-8")
            _evict(self.name)
            try:
                os.replace(self._tmp, self.cached)  # atomic: a reader sees all of it or none
                self.out_dir = self.cached / "out"
                self._tmp = None
            except OSError:  # another server wrote the same key first: use ours, drop it later
                pass
        return stdout

    def discard(self):
        """Remove what an uncached (or failed) step wrote; a cached entry stays."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
