"""``ReproductionTracker``: every run's metrics beside the paper's, and how far each one is.

Each run records, per metric the paper reports, the deviation in points (``ours - paper``, in
the metric's own unit: percentage points for an accuracy in %) and in percent of the paper's
value, and a flag when it is past the 5% rule (``|deviation| > 5%``: go back and look for the
cause before tuning). ``best_run(metric, mode)`` honours the direction: ``"max"`` for an
accuracy, ``"min"`` for a loss or an error rate. The record lives in a JSON file, rewritten
atomically after each run, so a tracker can be reopened in a later session.
"""

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from byhand.repro._files import write_text_atomic

__all__ = ["ReproductionTracker"]
MODES = ("max", "min")


class ReproductionTracker:
    """Runs measured against ``paper_metrics`` (metric -> published value).

    With ``path``, the runs are saved there after each ``log_run`` and, when the file exists,
    read back from it (its paper metrics must be the same).
    """

    def __init__(self, paper_metrics, path=None, *, threshold_pct=5.0):
        if not isinstance(paper_metrics, dict) or not paper_metrics:
            raise ValueError(
                f"ReproductionTracker expects a non-empty dict of paper metrics, "
                f"got {paper_metrics!r}"
            )
        for key, value in paper_metrics.items():
            if not _finite(value) or value == 0:
                raise ValueError(
                    f"paper metric {key!r} must be a finite non-zero number (the deviation "
                    f"in % divides by it), got {value!r}"
                )
        self.paper_metrics = {k: float(v) for k, v in paper_metrics.items()}
        self.threshold_pct = float(threshold_pct)
        self.path = None if path is None else Path(path)
        self.runs = []
        if self.path is not None and self.path.exists():
            saved = self.load(self.path)
            ours = (self.paper_metrics, self.threshold_pct)
            if (saved.paper_metrics, saved.threshold_pct) != ours:
                raise ValueError(
                    f"{self.path} tracks {saved.paper_metrics} at a "
                    f"{saved.threshold_pct:g}% threshold, not {ours[0]} at {ours[1]:g}%"
                )
            self.runs = saved.runs

    def log_run(self, name, metrics, notes=""):
        """Record one run; returns its record (metrics, deviations, flags, time)."""
        if any(run["name"] == name for run in self.runs):
            raise ValueError(f"a run named {name!r} is already recorded")
        bad = {k: v for k, v in metrics.items() if not _finite(v)}
        if bad:
            raise ValueError(f"run {name!r}: metrics must be finite numbers, got {bad}")
        deviations = {}
        for key, paper in self.paper_metrics.items():
            if key in metrics:
                points = metrics[key] - paper
                percent = 100.0 * points / abs(paper)
                deviations[key] = {
                    "value": metrics[key],
                    "paper": paper,
                    "points": points,
                    "percent": percent,
                    "flagged": abs(percent) > self.threshold_pct,
                }
        record = {
            "name": name,
            "metrics": dict(metrics),
            "deviations": deviations,
            "flagged": sorted(k for k, d in deviations.items() if d["flagged"]),
            "notes": notes,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.runs.append(record)
        if self.path is not None:
            self.save(self.path)
        return record

    def best_run(self, metric, mode="max"):
        """The run with the highest (``mode="max"``) or lowest (``"min"``) ``metric``."""
        if mode not in MODES:
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        runs = [run for run in self.runs if metric in run["metrics"]]
        if not runs:
            recorded = sorted({k for run in self.runs for k in run["metrics"]})
            raise ValueError(f"no run recorded {metric!r}; recorded: {recorded}")
        pick = max if mode == "max" else min
        return pick(runs, key=lambda run: run["metrics"][metric])

    def closest_run(self, metric):
        """The run whose ``metric`` is nearest the paper's value, either side."""
        runs = [run for run in self.runs if metric in run["deviations"]]
        if not runs:
            raise ValueError(f"no run recorded {metric!r} with a paper value to compare")
        return min(runs, key=lambda run: abs(run["deviations"][metric]["points"]))

    @property
    def flagged_runs(self):
        return [run for run in self.runs if run["flagged"]]

    def to_dict(self):
        return {
            "paper_metrics": self.paper_metrics,
            "threshold_pct": self.threshold_pct,
            "runs": self.runs,
        }

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text, path=None):
        data = json.loads(text)
        missing = {"paper_metrics", "threshold_pct", "runs"} - set(data)
        if missing:
            raise ValueError(f"a tracker's JSON needs {sorted(missing)}")
        tracker = cls(data["paper_metrics"], threshold_pct=data["threshold_pct"])
        tracker.runs = data["runs"]
        tracker.path = None if path is None else Path(path)
        return tracker

    def save(self, path=None):
        path = Path(path or self.path)
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path):
        return cls.from_json(Path(path).read_text(encoding="utf-8"), path=path)

    def table(self):
        """One row per run and paper metric: value, paper, deviation, flag (Markdown)."""
        lines = [
            "| run | metric | ours | paper | points | % | past 5%? |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for run in self.runs:
            for key, d in run["deviations"].items():
                flag = f"**yes** (>{self.threshold_pct:g}%)" if d["flagged"] else "no"
                lines.append(
                    f"| {run['name']} | {key} | {d['value']:.4g} | {d['paper']:.4g} | "
                    f"{d['points']:+.3g} | {d['percent']:+.2f} | {flag} |"
                )
        return "\n".join(lines)

    def plot(self, path=None):
        """One panel per paper metric: each run's value, the paper's line and the ±5% band."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not self.runs:
            raise ValueError("no run recorded yet: nothing to plot")
        keys = list(self.paper_metrics)
        fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
        for ax, key in zip(axes[0], keys):
            runs = [run for run in self.runs if key in run["metrics"]]
            paper = self.paper_metrics[key]
            band = abs(paper) * self.threshold_pct / 100
            ax.axhspan(paper - band, paper + band, color="C0", alpha=0.15, label="±5% of paper")
            ax.axhline(paper, color="C0", label="paper")
            values = [run["metrics"][key] for run in runs]
            colors = ["C3" if key in run["flagged"] else "C2" for run in runs]
            ax.scatter(range(len(runs)), values, c=colors, zorder=3, label="runs")
            ax.set_xticks(range(len(runs)), [run["name"] for run in runs], rotation=30)
            ax.set_title(key)
        axes[0][0].legend(fontsize="small")
        fig.tight_layout()
        if path is not None:
            path = Path(path)
            temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
            fig.savefig(temporary, dpi=100)
            temporary.replace(path)
            plt.close(fig)
        return fig


def _finite(value):
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )
