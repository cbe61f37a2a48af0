"""``mkdocs serve`` only: build-time results from the disk cache, templates compiled once.

``on_startup`` learns the command: under ``serve`` the build steps of the other hooks reuse
results cached in ``.cache/byhand-build/`` (``_subprocess``); ``mkdocs build`` computes all of
them afresh. The server re-creates the theme's template environment on every rebuild; the
compiled templates are kept in memory across rebuilds so a prose edit re-renders quickly.
"""

import jinja2
from _subprocess import caching, use_cache


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


def on_startup(command, dirty):
    use_cache(command)


def on_env(env, config, files):
    if caching():
        env.bytecode_cache = _templates
    return env
