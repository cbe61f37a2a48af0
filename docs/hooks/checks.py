"""Site-wide build checks.

* The offline KaTeX copy that `make assets` fetches must be there (math renders from it, not a CDN).
* No page may show an include line that was not expanded (a mangled ``--8<--`` shows up as text).
"""

import logging
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.checks")
REQUIRED = (
    "katex.min.js",
    "katex.min.css",
    "contrib/auto-render.min.js",
    "fonts/KaTeX_Main-Regular.woff2",
)
UNEXPANDED_INCLUDE = re.compile(r"--8\s*(?:&lt;|<)\s*--")


def on_config(config):
    vendor = Path(config["docs_dir"]) / "vendor" / "katex"
    missing = [name for name in REQUIRED if not (vendor / name).is_file()]
    if missing:
        raise PluginError(
            f"KaTeX is missing from {vendor} ({', '.join(missing)}): run `make assets` "
            "(it unpacks the katex package from the npm registry; math is rendered offline from that copy)"
        )
    return config


def on_page_content(html, page, config, files):
    if UNEXPANDED_INCLUDE.search(html):
        log.warning(
            '%s shows an include line that was not expanded (--8<-- "src/...")',
            page.file.src_uri,
        )
    return html
