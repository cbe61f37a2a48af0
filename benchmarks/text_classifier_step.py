"""One training step of the text classifier with byhand blocks against torch.nn blocks.

    python benchmarks/text_classifier_step.py [--threads 1 2] [--rounds 15] [--profile]
    python benchmarks/text_classifier_step.py --model lstm   # 2-layer LSTM, dropout 0.3

The two models are the same ``TextClassifier`` (4 layers, d_model 256, 4 heads, feed-forward
1024, batch 32 × 64 tokens, dropout 0.1) built with ``impl="byhand"`` and ``impl="torch"``;
one step is forward, cross-entropy, backward and an AdamW step. Rounds are interleaved (ours,
then theirs, then ours...), after warm-up steps, and the result is the **median of the
per-round ratios**, so a burst of load from another process hits both sides of a round alike.
``--profile`` prints torch.profiler's op table for one step of each (self CPU time, calls).
The load average is printed beside every number: on a shared machine, read it first.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

import byhand
from byhand.models.text_classifier import TextClassifier


def classifier_step(impl, batch, length, seed=0):
    torch.manual_seed(seed)
    model = TextClassifier(
        8000, 6, d_model=256, nhead=4, num_layers=4, dim_feedforward=1024, dropout=0.1,
        max_len=length, impl=impl,
    )  # fmt: skip
    adamw = byhand.optim.AdamW if impl == "byhand" else torch.optim.AdamW
    optimizer = adamw(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, 8000, (batch, length), generator=g)
    ids[: batch // 2, length // 2 :] = 0  # half the batch padded to half the length
    labels = torch.randint(0, 6, (batch,), generator=g)

    def step():
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def lstm_step(impl, batch, length, seed=0):
    """The captioning decoder's shape: 2-layer LSTM (H 64) with inter-layer dropout."""
    torch.manual_seed(seed)
    nn = byhand.nn if impl == "byhand" else torch.nn
    lstm = nn.LSTM(32, 64, num_layers=2, dropout=0.3, batch_first=True)
    x = torch.randn(batch, length, 32, generator=torch.Generator().manual_seed(seed))

    def step():
        lstm(x)[0].sum().backward()

    return step


def ratio(make, threads, rounds, warmup=2, **kwargs):
    torch.set_num_threads(threads)
    ours, theirs = make("byhand", **kwargs), make("torch", **kwargs)
    for _ in range(warmup):
        ours(), theirs()
    ratios, times = [], {"byhand": [], "torch": []}
    for r in range(rounds):
        pair = (("byhand", ours), ("torch", theirs)) if r % 2 == 0 else (
            ("torch", theirs), ("byhand", ours))  # fmt: skip
        for name, step in pair:
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
        ratios.append(times["byhand"][-1] / times["torch"][-1])
    return {
        "threads": threads,
        "rounds": rounds,
        "ratio_median": round(statistics.median(ratios), 3),
        "byhand_ms_median": round(1e3 * statistics.median(times["byhand"]), 1),
        "torch_ms_median": round(1e3 * statistics.median(times["torch"]), 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def profile(make, threads, **kwargs):
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(threads)
    for impl in ("byhand", "torch"):
        step = make(impl, **kwargs)
        step(), step()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        events = prof.key_averages()
        calls = sum(e.count for e in events if e.key.startswith("aten::"))
        print(f"\n== {impl}: {calls} aten op calls in one step ==")
        print(events.table(sort_by="self_cpu_time_total", row_limit=12))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["classifier", "lstm"], default="classifier")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--length", type=int, default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    make = classifier_step if args.model == "classifier" else lstm_step
    kwargs = dict(
        batch=args.batch or (32 if args.model == "classifier" else 16),
        length=args.length or (64 if args.model == "classifier" else 16),
    )
    if args.profile:
        for threads in args.threads:
            profile(make, threads, **kwargs)
        return 0
    rows = [
        {"model": args.model, **kwargs, **ratio(make, threads, args.rounds, **kwargs)}
        for threads in args.threads
    ]
    for row in rows:
        print(json.dumps(row) if args.json else (
            f"{row['model']}: {row['threads']} thread(s): byhand/torch = "
            f"{row['ratio_median']:.2f} (median of {row['rounds']} rounds; byhand "
            f"{row['byhand_ms_median']} ms, torch {row['torch_ms_median']} ms; load average "
            f"{row['load_average']})"
        ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
