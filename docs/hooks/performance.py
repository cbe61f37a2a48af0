"""The Performance page and each block's speed line, from the committed results files only.

Markers replaced in the Markdown of any page:

* ``<!-- byhand:performance -->`` — the whole table of the newest CPU results file (per
  chapter), every miss with its profile summary, the compiled column, the ResNet-18 step and
  the CUDA status (docs/performance.md);
* ``<!-- byhand:speed NAME ... -->`` — one box with the rows of the blocks named;
* ``<!-- byhand:resnet18-step -->`` — the ResNet-18 training step (its case-study page).

Every other page whose path a results row names (its ``page`` field) gets its own box without a
marker, at the end of its ``## Check`` section: one table per device (its newest results file), a
line per block, shape and what is timed (forward, forward+backward, an optimizer step), a
column per thread count (the ratio and its spread), the target and whether it is met. A page
no row names shows nothing.

Numbers come from ``benchmarks/results/*.json`` (``_speed_results.py``), written by
``benchmarks/run.py --save`` and friends; this hook times nothing. A NAME with no row is a
warning (the strict build stops on it).
"""

import logging
import posixpath
import re

from _speed_results import day, devices, latest, miss, trained_rows

log = logging.getLogger("mkdocs.hooks.performance")
MARKER = re.compile(r"<!--\s*byhand:(performance|speed|resnet18-step)\s*([^>]*?)\s*-->")
PAGE = "performance.md"
TIMED_ORDER = {"forward": 0, "forward+backward": 1, "step": 2}
CHECK = re.compile(r"^##\s+Check\s*$", re.M)
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
        lines.append("| " + " | ".join([*_op_cells(op, 2), str(op["calls"])]) + " |")
    return "\n".join(lines)


def _op_cells(op, digits):
    """An operator of a profile summary as table cells: name, ms per step, share of the step."""
    name = f"`{op['op']}`"
    if op["op"].startswith("## Call CompiledFxGraph"):  # the profiler's name for the graph
        name = "the kernels Inductor generated (`CompiledFxGraph`)"
    return [name, f"{op['self_ms']:.{digits}f}", f"{op['share']:.0%}"]


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
        "| mode | threads | byhand ms | torch.nn ms | byhand / torch.nn | spread | rounds "
        "| goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['mode']} | {r['threads']} | {r['ours_ms']:.1f} | {r['theirs_ms']:.1f} | "
            f"{_x(r['ratio'])} | {r['spread']:.2f} | {r['rounds']} | {_status(r)} |"
        )
    lines += ["", _compile_line(data)]
    for r in data["rows"]:
        if r.get("profile") and r.get("profile_theirs"):
            lines += ["", _step_profile(r)]
    return "\n".join(lines)


def _compile_line(data):
    """The compiled rows' cold compile times and each model's graphs and graph breaks."""
    times = {n: t for n, t in data.get("compile_s", {}).items() if t}
    if not times:
        return "No compiled rows in this file (it was run with `--no-compile`)."
    per_threads = "; ".join(
        f"{_threads(int(n))}: " + ", ".join(f"{label} {s:.0f} s" for label, s in t.items())
        for n, t in times.items()
    )
    breaks = data.get("graph_breaks") or {}
    explained = ", ".join(
        f"{label} {b['graphs']} graph{'s' if b['graphs'] != 1 else ''}, "
        f"{b['breaks']} break{'s' if b['breaks'] != 1 else ''}"
        for label, b in breaks.items()
    )
    return (
        f"Cold compile of one step, `torch.compile` (Inductor, its caches off), forward and "
        f"backward: {per_threads}. `torch._dynamo.explain` on the forward: "
        f"{explained or 'not recorded'}."
    )


def _step_profile(row):
    """A missed whole-step goal: both sides' top operators, side by side."""
    ours, theirs = row["profile"], row["profile_theirs"]
    lines = [
        f"**{row['mode']}, {_threads(row['threads'])}: {_x(row['ratio'])}** (goal ≤ "
        f"{row['target']:g}×). Where each step's time goes (`torch.profiler`, operators by "
        "self time, ms per step):",
        "",
        "| byhand operator | ms | share | torch.nn operator | ms | share |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for i in range(max(len(ours), len(theirs))):
        cells = []
        for side in (ours, theirs):
            op = side[i] if i < len(side) else None
            cells += ["", "", ""] if op is None else _op_cells(op, 1)
        lines.append("| " + " | ".join(cells) + " |")
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


def _target_cell(rows):
    """``≤ 2×: met`` / ``**missed**`` / per thread count when they differ."""
    targets = {r["target"] for r in rows if r.get("target") is not None}
    if not targets:
        return "—"
    states = {r["threads"]: "**missed**" if miss(r) else "met" for r in rows}
    head = " / ".join(f"≤ {t:g}×" for t in sorted(targets))
    if len(set(states.values())) == 1:
        return f"{head}: {next(iter(states.values()))}"
    return f"{head}: " + ", ".join(f"{s} at {_threads(n)}" for n, s in sorted(states.items()))


def _speed_table(rows, data, page):
    """One admonition: ``rows`` (one device's) per block, shape and what is timed, one column
    per thread count; the ratio with its spread, the target and whether it is met."""
    threads = sorted({r["threads"] for r in rows})
    named = len({r["name"] for r in rows}) > 1
    head = ["block"] * named + ["shape", "timed"] + [_threads(n) for n in threads] + ["target"]
    align = ["---"] * (len(head) - len(threads) - 1) + ["---:"] * len(threads) + ["---"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    dtypes = list(dict.fromkeys(r.get("dtype", data["dtype"]) for r in rows))
    groups = {}  # (name, shape) in the file's order, then what is timed, then threads
    for r in rows:
        shape = r["shape"] + (f", {r.get('dtype')}" if len(dtypes) > 1 else "")
        timed = groups.setdefault((r["name"], shape), {})
        timed.setdefault(r["timed"], {})[r["threads"]] = r
    for (name, shape), timed in groups.items():
        for what in sorted(timed, key=lambda t: TIMED_ORDER.get(t, len(TIMED_ORDER))):
            by_threads = timed[what]
            cells = [f"`{name}`"] * named + [shape, what]
            for n in threads:
                r = by_threads.get(n)
                cells.append(f"{_x(r['ratio'])} ({r['spread']:.2f})" if r else "—")
            cells.append(_target_cell(list(by_threads.values())))
            lines.append("| " + " | ".join(cells) + " |")
    rounds = sorted({r["rounds"] for r in rows})
    rounds = f"{rounds[0]}" if len(rounds) == 1 else f"{rounds[0]}–{rounds[-1]}"
    body = [
        *lines,
        "",
        f"Each ratio is the median of the per-round ratios over {rounds} interleaved rounds "
        "(in brackets their spread, the interquartile range); above 1, ours is slower. "
        f"Measured {day(data)}, `{data['file']}` ([every block, the machine and where the "
        f"time goes in each miss]({_link(page.file.src_uri, PAGE)})).",
    ]
    title = f"Speed: ours / PyTorch, {data['device'].upper()} {', '.join(dtypes)}"
    return f'!!! info "{title}"\n\n' + "\n".join(f"    {line}" if line else "" for line in body)


def _speed_box(page, names=None):
    """The speed tables of ``page`` (its rows, by their ``page`` field) or of ``names``, one
    per device with a results file; "" when no file has a row for it."""
    boxes = []
    for device in devices("speed"):
        data = latest("speed", device)
        if data is None:
            continue
        if names is None:
            rows = [r for r in data["rows"] if r.get("page") == page.file.src_uri]
        else:
            rows = [r for r in data["rows"] if r["name"] in names]
        if rows:
            boxes.append(_speed_table(rows, data, page))
    return "\n\n".join(boxes)


def _after_check(markdown, box):
    """``markdown`` with ``box`` at the end of its ``## Check`` section (else at the end)."""
    check = CHECK.search(markdown)
    if check is None:
        return markdown.rstrip("\n") + "\n\n" + box + "\n"
    following = re.compile(r"^#{1,2}\s", re.M).search(markdown, check.end())
    end = following.start() if following else len(markdown)
    return markdown[:end].rstrip("\n") + "\n\n" + box + "\n\n" + markdown[end:]


def on_page_markdown(markdown, page, config, files):
    explicit = False

    def replace(match):
        nonlocal explicit
        kind, names = match.group(1), match.group(2).split()
        if kind == "performance":
            return _performance(page)
        if kind == "resnet18-step":
            return _resnet_section()
        explicit = True
        box = _speed_box(page, names)
        if not box:
            log.warning("byhand:speed %s: no row in any speed results file", " ".join(names))
        return box

    markdown = MARKER.sub(replace, markdown)
    if not explicit and page.file.src_uri != PAGE:
        box = _speed_box(page)
        if box:
            markdown = _after_check(markdown, box)
    return markdown


def on_files(files, config):
    """A results row naming a page the site does not have would never be shown: warn."""
    pages = {f.src_uri for f in files.documentation_pages()}
    for device in devices("speed"):
        data = latest("speed", device)
        named = {r.get("page") for r in data["rows"]} if data else set()
        for page in sorted(named - pages - {None}):
            log.warning("%s: rows for %s, a page the site does not have", data["file"], page)
    return files
