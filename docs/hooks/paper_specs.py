"""Write each ``PaperSpec`` of ``byhand.repro.papers`` into the pages as a table.

A page line ``<!-- byhand:paper-spec NAME -->`` becomes ``SPECS[NAME].to_markdown()``: what the
source states, what it omits, what we use. The spec is written once, in ``src/``.
"""

import re

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- byhand:paper-spec (?P<name>[a-z0-9-]+) -->$", re.MULTILINE)


def _table(match):
    from byhand.repro.papers import SPECS

    name = match["name"]
    if name not in SPECS:
        raise PluginError(
            f"<!-- byhand:paper-spec {name} -->: no such spec; have {list(SPECS)}"
        )
    return SPECS[name].to_markdown()


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(_table, markdown)
