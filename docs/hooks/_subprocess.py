"""Run a build step in a fresh Python process, so `mkdocs serve` always sees the current src/.

Hooks are re-imported on every rebuild, but `byhand` would stay cached in the server's process;
a child process imports the package anew each time.
"""

import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]


class Step:
    """A child process started now and collected later, so build steps overlap."""

    def __init__(self, description, *args):
        self.description = description
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def output(self, ok_codes=(0,)):
        stdout, stderr = self.process.communicate()
        if self.process.returncode not in ok_codes:
            raise PluginError(
                f"{self.description} failed (exit {self.process.returncode}):\n{stderr.strip()}"
            )
        return stdout
