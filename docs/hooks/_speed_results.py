"""Read the committed speed results in ``benchmarks/results/`` (shared by the Performance hook
and its figure). Nothing here measures: every number comes from a file a benchmark wrote.

* ``speed-<device>-<date>.json`` — ``benchmarks/run.py --save``: one row per block, shape,
  thread count and what is timed;
* ``compiled-<device>-<date>.json`` — ``benchmarks/compiled.py --save``: each block under
  ``torch.compile`` against eager, graph breaks of ours and of PyTorch's twin;
* ``resnet18-step-<device>-<date>.json`` — ``benchmarks/resnet18_step.py --save``.

Of each kind and device the newest file (by the date it records) is used; smoke runs
(``"quick": true``) never are.
"""

import json
from pathlib import Path

from _subprocess import kept

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
KINDS = {"speed": "speed-", "compiled": "compiled-", "resnet18": "resnet18-step-"}


def _read(path):
    """A results file's dict; under ``mkdocs serve`` read again only when the file changed."""
    known, stat = kept("results-files"), path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    if known.get(path, (None,))[0] != key:
        known[path] = (key, json.loads(path.read_text(encoding="utf-8")))
    return dict(known[path][1])  # the caller may add keys; it changes no row


def latest(kind, device="cpu"):
    """The newest results dict of ``kind`` on ``device``, with its ``file`` name; or None."""
    best = None
    for path in sorted(RESULTS.glob(f"{KINDS[kind]}{device}-*.json")):
        data = _read(path)
        if data.get("quick"):
            continue
        data["file"] = path.relative_to(ROOT).as_posix()
        if best is None or data["date"] > best["date"]:
            best = data
    return best


def devices(kind):
    """The devices that have a results file of ``kind``, ``cpu`` first."""
    prefix = KINDS[kind]
    found = {p.name[len(prefix) :].split("-", 1)[0] for p in RESULTS.glob(f"{prefix}*-*.json")}
    return sorted(found, key=lambda device: (device != "cpu", device))


def day(data):
    """``2026-12-01`` from the ISO date a results file records."""
    return data["date"][:10]


def miss(row):
    return row.get("target") is not None and row["ratio"] > row["target"]


def trained_rows(data):
    """The rows with a target or a backward: forward+backward and optimizer steps."""
    return [r for r in data["rows"] if r["timed"] in ("forward+backward", "step")]
