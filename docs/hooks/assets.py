"""Fail early, with the fix, when the offline KaTeX copy that `make` fetches is missing."""

from pathlib import Path

from mkdocs.exceptions import PluginError

REQUIRED = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js", "fonts/KaTeX_Main-Regular.woff2")


def on_config(config):
    vendor = Path(config["docs_dir"]) / "vendor" / "katex"
    missing = [name for name in REQUIRED if not (vendor / name).is_file()]
    if missing:
        raise PluginError(
            f"KaTeX is missing from {vendor} ({', '.join(missing)}): run `make assets` "
            "(it unpacks the katex package from the npm registry; math is rendered offline from that copy)"
        )
    return config
