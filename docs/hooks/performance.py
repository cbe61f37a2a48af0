"""The Performance page and each block's speed line, from the committed results files only.

Markers replaced in the Markdown of any page:

* ``<!-- byhand:performance -->`` — the whole table of the newest CPU results file (per
  chapter), every miss with its profile summary, the compiled column, the ResNet-18 step and
  the CUDA status (docs/performance.md);
* ``<!-- byhand:speed NAME -->`` — one box with NAME's rows (forward+backward, every bench
  shape, each thread count): e.g. ``<!-- byhand:speed nn.Conv2d -->`` on the convolution page.

Numbers come from ``benchmarks/results/*.json`` (``_speed_results.py``), written by
``benchmarks/run.py --save`` and friends; this hook times nothing. A NAME with no row is a
warning (the strict build stops on it).
"""

import logging
import posixpath
import re

from _speed_results import day, latest, miss, trained_rows

log = logging.getLogger("mkdocs.hooks.performance")
MARKER = re.compile(r"<!--\s*byhand:(performance|speed)\s*([^>]*?)\s*-->")
PAGE = "performance.md"
REGENERATE = "python benchmarks/run.py --threads 1,2 --profile --save"


def _link(from_uri, to_uri):
    return posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")


def _x(value):
    return f"{value:.2f}×"


def _threads(count):
    return f"{count} thread{'s' if count != 1 else ''}"


def _status(row):
    if row.get("target") is None:
        return ""
    return f"≤ {row['target']:g}× " + ("**missed**" if miss(row) else "met")


def _environment(data):
    load = f"{data['load_average_start']} → {data['load_average_end']}"
    return (
        f"`{data['command']}` on {data['machine']} ({data['cpu']}, {data['cores']} cores), "
        f"torch {data['torch']}, {data['dtype']}, threads {data['threads']} (numpy's BLAS "
        f"pinned by {data['blas_threads']}), {data['date']}, {data['duration_s']} s, load "
        f"average (1, 5, 15 min) at start → end: {load}. File: `{data['file']}`."
    )


def _table(rows):
    lines = [
        "| block | shape | timed | threads | ours ms | PyTorch ms | ours / PyTorch | "
        "spread (IQR) | rounds | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['name']}` | {r['shape']} | {r['timed']} | {r['threads']} | "
            f"{r['ours_ms']:.3f} | {r['theirs_ms']:.3f} | {_x(r['ratio'])} | "
            f"{r['spread']:.2f} | {r['rounds']} | {_status(r)} |"
        )
    return "\n".join(lines)


def _profile(row):
    lines = [
        f"**`{row['name']}` {row['shape']}, {row['timed']}, {_threads(row['threads'])}: "
        f"{_x(row['ratio'])}** (target ≤ {row['target']:g}×). Where our time goes "
        "(`torch.profiler`, operators by self time):",
        "",
        "| operator | ms per step | share | calls per step |",
        "| --- | ---: | ---: | ---: |",
    ]
    for op in row["profile"]:
        lines.append(
            f"| `{op['op']}` | {op['self_ms']:.2f} | {op['share']:.0%} | {op['calls']} |"
        )
    return "\n".join(lines)


def _compiled_section():
    data = latest("compiled", "cpu")
    if data is None:
        return (
            "No compiled results file yet: `python benchmarks/compiled.py --save` writes one "
            "(`python -m byhand.verify --compiled` runs the same checks without saving)."
        )
    results = data["results"]
    passed = sum(r["passed"] for r in results)
    # a negative count: explain traced no graph of PyTorch's block (e.g. its RNNs): unknown
    extra = [r for r in results if r["breaks"] is not None and r["theirs_breaks"] is not None
             and r["theirs_breaks"] >= 0 and r["breaks"] > r["theirs_breaks"]]  # fmt: skip
    lines = [
        f"`{data['command']}`, torch {data['torch']}, {data['date']}: **{passed} of "
        f"{len(results)} blocks** give under `torch.compile` (backend "
        f"`{data.get('backend', 'inductor')}`) what they give eager (forward, "
        f"input and parameter gradients, buffers, {data['dtype']}); {len(extra)} break their "
        "graph where PyTorch's own block does not. File: "
        f"`{data['file']}`.",
        "",
        "| block | compiled = eager | graphs / breaks (ours) | graphs / breaks (PyTorch) | "
        "compile s | first break of ours |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        ok = "yes" if r["passed"] else "**no**: " + "; ".join(r["failures"])[:120]
        reason = (r["break_reasons"] or [""])[0].replace("|", "\\|")[:100]
        lines.append(
            f"| `{r['name']}` | {ok} | {r['graphs']} / {r['breaks']} | "
            f"{r['theirs_graphs']} / {r['theirs_breaks']} | {r['compile_s']:.1f} | {reason} |"
        )
    return "\n".join(lines)


def _resnet_section():
    data = latest("resnet18", "cpu")
    if data is None:
        return "No ResNet-18 step results yet: `python benchmarks/resnet18_step.py --save`."
    lines = [
        f"`{data['command']}`, torch {data['torch']}, {data['date']}, batch "
        f"{data['batch']}, load average {data['load_average_start']} → "
        f"{data['load_average_end']}. File: `{data['file']}`.",
        "",
        "| mode | threads | byhand ms | torch.nn ms | byhand / torch.nn | spread | rounds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['mode']} | {r['threads']} | {r['ours_ms']:.1f} | {r['theirs_ms']:.1f} | "
            f"{_x(r['ratio'])} | {r['spread']:.2f} | {r['rounds']} |"
        )
    return "\n".join(lines)


def _performance(page):
    data = latest("speed", "cpu")
    if data is None:
        log.warning("performance: no CPU results file in benchmarks/results/")
        return "No CPU results file yet."
    rows = data["rows"]
    trained = trained_rows(data)
    misses = [r for r in trained if miss(r)]
    with_target = [r for r in trained if r.get("target") is not None]
    out = [f"Measured by {_environment(data)}", ""]
    if data["load_average_start"] and data["load_average_start"][0] > data["cores"]:
        out += [
            '!!! warning "Measured on a loaded machine"',
            "",
            f"    The load average at the start ({data['load_average_start'][0]}) was above "
            f"the {data['cores']} cores: other work shared them, which inflates "
            "hand-written code that makes many passes over memory more than PyTorch's fused "
            "kernels. Read the 1-thread rows; a quiet rerun replaces this file.",
            "",
        ]
    out += [
        f"**{len(with_target) - len(misses)} of {len(with_target)}** rows with a target meet "
        f"it; {len(misses)} miss (their profiles are below).",
        "",
        "![ours / PyTorch per block, per chapter, with the targets]"
        f"({_link(page.file.src_uri, 'figures/performance-ratios.png')})",
        "",
    ]
    for chapter in dict.fromkeys(r["chapter"] for r in rows):
        out += [f"### {chapter}", "", _table([r for r in rows if r["chapter"] == chapter]), ""]
    out += ["## Where the time goes in each miss", ""]
    profiled = [r for r in misses if r.get("profile")]
    if not profiled:
        out.append("No profile in this results file (`--profile` adds them).")
    for r in profiled:
        out += [_profile(r), ""]
    out += ["## Under `torch.compile`", "", _compiled_section(), ""]
    out += ["## A whole training step: ResNet-18", "", _resnet_section(), ""]
    cuda = latest("speed", "cuda")
    out += ["## CUDA", ""]
    if cuda is None:
        out.append(
            "Not measured: no CUDA results file yet (`python benchmarks/run.py --device cuda "
            "--save` on a machine with a GPU writes one)."
        )
    else:
        out += [f"Measured by {_environment(cuda)}", "", _table(cuda["rows"])]
    return "\n".join(out)


def _speed_box(names, page):
    data = latest("speed", "cpu")
    rows = [r for r in trained_rows(data) if r["name"] in names] if data else []
    if not rows:
        log.warning("byhand:speed %s: no row in the CPU results file", " ".join(names))
        return ""
    items = []
    for key in dict.fromkeys((r["name"], r["shape"]) for r in rows):
        parts = [
            f"{_x(r['ratio'])} at {_threads(r['threads'])}"
            for r in rows
            if (r["name"], r["shape"]) == key
        ]
        name = f"`{key[0]}` " if len(names) > 1 else ""
        items.append(f"    - {name}{key[1]}: " + ", ".join(parts))
    timed = rows[0]["timed"]
    link = _link(page.file.src_uri, PAGE)
    return "\n".join(
        [
            f'!!! info "Speed: ours / PyTorch, {timed}, CPU {data["dtype"]}"',
            "",
            *items,
            "",
            f"    Interleaved median over {rows[0]['rounds']} rounds, results of {day(data)} "
            f"([all blocks, machine and profiles]({link})).",
            "",
        ]
    )


def on_page_markdown(markdown, page, config, files):
    def replace(match):
        kind, names = match.group(1), match.group(2).split()
        if kind == "performance":
            return _performance(page)
        return _speed_box(names, page)

    return MARKER.sub(replace, markdown)
