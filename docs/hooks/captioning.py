"""The captioning case study's numbers and figures, measured at build time.

``on_pre_build`` starts ``docs/hooks/captioning_build.py`` in a child process (it reads the
committed result file, runs a one-epoch smoke training of the same recipe and draws the figures);
``on_files`` serves its PNGs as ``figures/<name>``; on the page, ``<!-- byhand:captioning KEY -->``
becomes the text the step wrote for ``KEY`` (an unknown key stops the build). Under
``mkdocs serve`` the step is cached until ``src/``, these hooks or the result file change.
"""

import json
import re

from _subprocess import HOOKS, ROOT, Step
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

MARKER = re.compile(r"<!--\s*byhand:captioning\s+([a-z0-9-]+)\s*-->")
RESULTS = ROOT / "docs" / "case-studies" / "results"
_state = {}


def on_pre_build(config):
    _state.clear()
    _state["step"] = Step(
        "captioning",
        "the captioning case study (docs/hooks/captioning_build.py)",
        "docs/hooks/captioning_build.py",
        Step.OUT,
        depends=[HOOKS / "captioning_build.py", HOOKS / "draw_figures.py", RESULTS],
    )


def _result():
    if "result" not in _state:
        _state["result"] = json.loads(_state["step"].output())
    return _state["result"]


def on_files(files, config):
    step = _state["step"]
    for name in _result()["figures"]:
        content = (step.out_dir / name).read_bytes()
        files.append(File.generated(config, f"figures/{name}", content=content))
    step.discard()
    return files


def on_page_markdown(markdown, page, config, files):
    if "byhand:captioning" not in markdown:
        return markdown
    text = _result()["text"]

    def replace(match):
        key = match.group(1)
        if key not in text:
            raise PluginError(
                f"{page.file.src_uri}: <!-- byhand:captioning {key} --> names no measured "
                f"value; the build step has {', '.join(sorted(text))}"
            )
        return text[key]

    return MARKER.sub(replace, markdown)
