"""How long `mkdocs serve` takes to show an edit: ``python benchmarks/serve_rebuild.py``.

Starts ``mkdocs serve`` on 127.0.0.1, waits for its first build, then edits a page's prose, a
file of ``src/`` and the page again (each edit is undone right after), and prints the seconds
from each edit to the end of the rebuild it triggered. Run it twice to see a warm cache's first
build too (``.cache/byhand-build/``); ``--prose-only`` skips the ``src/`` edit, ``--repeat N``
makes N prose edits (the median is printed too). Each line gives the wall time, the CPU time
(user + system) of the server and its build steps, and the load average: the machine may be
shared, and a busy one stretches the wall time, not the CPU time.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROSE = ROOT / "docs" / "testing.md"
SOURCE = ROOT / "src" / "byhand" / "nn" / "__init__.py"
BUILT = re.compile(r"Documentation built in ([\d.]+) seconds")
TIMEOUT_S = 600


def cpu_seconds(pid):
    """CPU time of the server process and its finished children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_for_build(log, start_count, since):
    """Seconds from ``since`` until the log shows one more finished build."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if len(BUILT.findall(text)) > start_count:
            return time.monotonic() - since, float(BUILT.findall(text)[start_count])
        if "Aborted" in text or "Error" in text.split("Serving on")[-1]:
            sys.exit(f"mkdocs serve failed:\n{text[-3000:]}")
        time.sleep(0.05)
    sys.exit(f"no rebuild within {TIMEOUT_S} s")


def cpu_seconds_total(pid):
    """CPU time of ``pid`` and of every live descendant (build steps still running)."""
    total = cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += cpu_seconds_total(int(child))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def edit(path, builds, log, label, pid, timings=None):
    original = path.read_bytes()
    cpu = cpu_seconds_total(pid)
    since = time.monotonic()
    path.write_bytes(
        original + b"\n<!-- edited -->\n"
        if path.suffix == ".md"
        else original + b"\n# edited\n"
    )
    try:
        wall, reported = wait_for_build(log, builds, since)
        cpu = cpu_seconds_total(pid) - cpu
    finally:
        path.write_bytes(original)
    print(
        f"{label}: {wall:.2f} s from the edit to the rebuilt site (mkdocs: {reported:.2f} s; "
        f"CPU of the server and its build steps: {cpu:.2f} s; load average "
        f"{os.getloadavg()[0]:.1f})",
        flush=True,
    )
    if timings is not None:
        timings.append((wall, cpu))
    # the undo triggers one more rebuild: wait for it so the next edit starts from quiet
    wait_for_build(log, builds + 1, time.monotonic())
    return builds + 2


def free_port():
    """A port nothing listens on now (another server may be running its own benchmark)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/serve_rebuild.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--prose-only", action="store_true", help="skip the src/ edit")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="N prose edits")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat expects a count of at least 1, got {args.repeat}")
    repeat = args.repeat
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="byhand-serve-", suffix=".log")[1])
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        since = time.monotonic()
        wall, _ = wait_for_build(log, 0, since)
        print(
            f"first build: {wall:.1f} s (CPU {cpu_seconds_total(server.pid):.1f} s; load "
            f"average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores)",
            flush=True,
        )
        time.sleep(2)  # let the watcher settle
        builds = 1
        pid = server.pid
        timings = []
        for i in range(repeat):
            builds = edit(
                PROSE, builds, log, f"prose edit {i + 1} (docs/testing.md)", pid, timings
            )
        if repeat > 1:
            walls, cpus = sorted(w for w, _ in timings), sorted(c for _, c in timings)
            print(
                f"prose edit, median of {repeat}: {walls[repeat // 2]:.2f} s wall, "
                f"{cpus[repeat // 2]:.2f} s CPU"
            )
        if not args.prose_only:
            builds = edit(SOURCE, builds, log, "src/ edit (src/byhand/nn/__init__.py)", pid)
            builds = edit(PROSE, builds, log, "prose edit again", pid)
    finally:
        server.send_signal(signal.SIGINT)  # as Ctrl-C: the server removes its site folder
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait()
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
