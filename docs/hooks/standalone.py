"""Serve every block's standalone file (``byhand export``) as ``standalone/<registry name>.py``.

The export runs in a child process started in ``on_pre_build`` (``byhand export --all``) and is
collected in ``on_files``; each block's "Checked against" box links its file
(``docs/hooks/verification.py``). Nothing is written into docs/.
"""

from _subprocess import Step
from mkdocs.structure.files import File

_state = {}


def on_pre_build(config):
    _state["step"] = Step(
        "standalone",
        "exporting every block (byhand export --all)",
        *("-m", "byhand", "export", "--all", "-o", Step.OUT),
    )


def on_files(files, config):
    step = _state["step"]
    for name in step.output().split():
        content = (step.out_dir / name).read_bytes()
        files.append(File.generated(config, f"standalone/{name}", content=content))
    step.discard()
    return files
