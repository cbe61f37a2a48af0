"""Execute every notebook under docs/ in a child process; mkdocs-jupyter renders the result.

``on_pre_build`` starts ``run_notebook.py`` for each ``*.ipynb`` page (they run while the rest
of the site builds). When mkdocs-jupyter is about to render a notebook page, this hook waits for
that run and points the page at the executed copy, so mkdocs-jupyter (``execute: false``) only
converts it. The page's download link serves the executed notebook.

Under ``mkdocs serve`` an executed notebook is cached until the notebook, ``src/`` or the
environment changes (``_subprocess``), and mkdocs-jupyter's own HTML cache, keyed on the
executed notebook's bytes, is switched on. ``mkdocs build`` runs every notebook afresh.
"""

from _subprocess import CACHE, HOOKS, Step, caching
from mkdocs.plugins import event_priority

_state = {"steps": {}}


def on_config(config):
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        jupyter.config["execute"] = False  # executed here, in parallel, with a cache
        jupyter.config["cache"] = caching()
        jupyter.config["cache_dir"] = str(CACHE / "mkdocs-jupyter")
    return config


def on_files(files, config):
    steps = _state["steps"]
    steps.clear()
    for file in files.documentation_pages():
        if file.src_uri.endswith(".ipynb") and file.abs_src_path:
            slug = file.src_uri.removesuffix(".ipynb").replace("/", "-")
            steps[file.src_uri] = Step(
                f"notebook-{slug}",
                f"executing {file.src_uri}",
                "docs/hooks/run_notebook.py",
                file.abs_src_path,
                Step.OUT,
                depends=[HOOKS / "run_notebook.py", file.abs_src_path],
            )
    return files


@event_priority(100)  # before mkdocs-jupyter reads the page's source
def on_pre_page(page, config, files):
    step = _state["steps"].get(page.file.src_uri)
    if step is not None:
        (name,) = step.output().split()
        page.file.abs_src_path = str(step.out_dir / name)
    return page


def on_post_build(config):
    for step in _state["steps"].values():
        step.discard()
    _state["steps"].clear()


def on_build_error(error):
    on_post_build(None)
