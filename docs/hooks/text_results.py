"""Write the text classifier's measured results into its page.

``<!-- byhand:text-classifier -->`` becomes a table read from the newest committed
``benchmarks/results/text_classifier-*.json`` (written by ``python -m
byhand.models.text_classifier --write-results FILE``): data sizes, final accuracy, per-package
recall, and where, when and how it was measured. No number on the page is typed in.
"""

import json
from pathlib import Path

MARKER = "<!-- byhand:text-classifier -->"
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def table():
    found = sorted(RESULTS.glob("text_classifier-*.json"))
    if not found:
        raise FileNotFoundError(f"{MARKER}: no text_classifier-*.json in {RESULTS}")
    results = json.loads(found[-1].read_text())
    confusion = results["confusion"]
    best = max(results["history"], key=lambda row: row["val_accuracy"])
    rows = [
        ("result file", f"`benchmarks/results/{found[-1].name}`"),
        (
            "measured",
            f"{results['date']}, {results['machine']}, {results['threads']} thread(s)",
        ),
        ("versions", f"torch {results['torch']}, Python {results['python']}"),
        ("command", f"`{results['command']}`"),
        (
            "data",
            f"{results['train_size']} training / {results['val_size']} validation "
            f"docstrings, {len(results['packages'])} packages",
        ),
        (
            "model",
            f"{results['parameters']:,} parameters, vocabulary "
            f"{results['model']['vocab_size']:,} words, d_model "
            f"{results['model']['d_model']}, {results['model']['num_layers']} layers",
        ),
        ("training", f"{len(results['history'])} epochs in {results['seconds']:.0f} s"),
        (
            "validation accuracy (last epoch)",
            f"**{results['val_accuracy']:.1%}** (best epoch: {best['val_accuracy']:.1%})",
        ),
        ("chance (largest class)", f"{max(map(sum, confusion)) / results['val_size']:.1%}"),
    ]
    for name, row, i in zip(results["packages"], confusion, range(len(confusion))):
        rows.append((f"recall `{name}`", f"{row[i]}/{sum(row)} = {row[i] / sum(row):.1%}"))
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, table())
