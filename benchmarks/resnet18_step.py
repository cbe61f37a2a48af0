"""One training step of ResNet-18: byhand's blocks against torch.nn's, interleaved.

    python benchmarks/resnet18_step.py [--threads 1,2] [--batch 32] [--rounds 5] [--no-compile]
                                       [--profile] [--save [PATH]]

``byhand.models.resnet18(num_classes=10, impl=...)`` is one piece of code built from either
module namespace, so the two models differ only in their blocks; both start from the same
weights. A step is forward, cross-entropy, backward and an SGD step (momentum 0.9, weight
decay 5e-4: byhand's ``SGD`` for byhand, ``torch.optim.SGD`` for torch.nn) on one batch of
``(N, 3, 32, 32)``. Rows, each interleaved over rounds like ``run.py`` (median of per-round
ratios, interquartile spread):

* ``eager``: byhand eager / torch.nn eager (the goal: ≤ 1.25);
* ``byhand compiled vs torch.nn eager``: ``torch.compile``\\ d byhand / eager torch.nn (goal ≤ 1);
* ``compiled``: byhand compiled / torch.nn compiled.

The compiled rows also report each model's cold compile time (Inductor, CPU). ``--save``
writes ``benchmarks/results/resnet18-step-cpu-<date>.json`` with the machine and the command.
"""

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the runner's timer, thread pinning and results helpers)

if __name__ == "__main__":
    run._pin_blas_before_import(sys.argv)

import torch  # noqa: E402

import byhand  # noqa: E402
from byhand.models import resnet18  # noqa: E402
from byhand.verify import compiled as verify_compiled  # noqa: E402
from byhand.verify.pairs import as_args  # noqa: E402


def _models(batch, device):
    torch.manual_seed(0)
    theirs = resnet18(num_classes=10, impl="torch").to(device)
    ours = resnet18(num_classes=10, impl="byhand").to(device)
    ours.load_state_dict(theirs.state_dict())
    g = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, 32, 32, generator=g).to(device)
    labels = torch.randint(0, 10, (batch,), generator=g).to(device)
    return ours, theirs, images, labels


def _step(model, optimizer, loss_fn, images, labels, forward=None):
    forward = model if forward is None else forward

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(forward(images), labels).backward()
        optimizer.step()

    return step


def steps(batch, device, compile_models):
    ours, theirs, images, labels = _models(batch, device)
    opt = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
    made = {
        "byhand eager": _step(
            ours, byhand.optim.SGD(ours.parameters(), **opt), byhand.nn.functional.cross_entropy,
            images, labels,
        ),
        "torch.nn eager": _step(
            theirs, torch.optim.SGD(theirs.parameters(), **opt),
            torch.nn.functional.cross_entropy, images, labels,
        ),
    }  # fmt: skip
    compile_s, breaks = {}, {}
    if compile_models:
        # every compile cold: no graph from an earlier run or thread count is reused
        torch._inductor.config.force_disable_caches = True
        for label, (model, optimizer, loss_fn) in {
            "byhand compiled": (ours, byhand.optim.SGD, byhand.nn.functional.cross_entropy),
            "torch.nn compiled": (theirs, torch.optim.SGD, torch.nn.functional.cross_entropy),
        }.items():
            explained = verify_compiled.explain(model, as_args((images,)))  # resets dynamo
            breaks[label] = {"graphs": explained[0], "breaks": explained[1],
                             "reasons": list(explained[2])}  # fmt: skip
            torch._dynamo.reset()
            compiled = torch.compile(model)
            step = _step(model, optimizer(model.parameters(), **opt), loss_fn, images, labels,
                         forward=compiled)  # fmt: skip
            started = time.perf_counter()
            step()  # the cold compile (forward and backward graphs)
            compile_s[label] = round(time.perf_counter() - started, 1)
            made[label] = step
    return made, compile_s, breaks


PAIRS = (
    ("eager", "byhand eager", "torch.nn eager"),
    ("byhand compiled vs torch.nn eager", "byhand compiled", "torch.nn eager"),
    ("compiled", "byhand compiled", "torch.nn compiled"),
)
# The case-study issue's goals (ratios byhand / torch.nn, CPU): a miss is profiled with --profile.
TARGETS = {"eager": 1.25, "byhand compiled vs torch.nn eager": 1.0}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/resnet18_step.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--threads", type=run._thread_counts, default=[1, 2])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="eager rows only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile both sides of a row that misses its goal",
    )
    parser.add_argument("--save", nargs="?", const="auto", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/resnet18_step.py", *(argv or sys.argv[1:])])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = run.load_average()
    print(f"torch {torch.__version__}, cpu, batch {args.batch}, load average {load_start}")
    rows, compile_times, graph_breaks = [], {}, {}
    for count in args.threads:
        with run.pinned_threads(count):
            made, compile_s, breaks = steps(args.batch, "cpu", not args.no_compile)
            compile_times[count], graph_breaks = compile_s, breaks or graph_breaks
            for mode, ours, theirs in PAIRS:
                if ours not in made or theirs not in made:
                    continue
                o, t, number = run.interleaved(
                    made[ours], made[theirs], "cpu", count, args.rounds, 0.05
                )
                row = {"mode": mode, "ours": ours, "theirs": theirs, "threads": count,
                       **run.summarise(o, t), "rounds": args.rounds,
                       "target": TARGETS.get(mode)}  # fmt: skip
                if args.profile and row["target"] is not None and row["ratio"] > row["target"]:
                    row["profile"] = run.profile_summary(made[ours], "cpu", top=6, calls=2)
                    row["profile_theirs"] = run.profile_summary(
                        made[theirs], "cpu", top=6, calls=2
                    )
                rows.append(row)
                print(f"{mode:36} {count} threads  {row['ours_ms']:8.1f} ms "
                      f"{row['theirs_ms']:8.1f} ms  {row['ratio']:5.2f} ±{row['spread']:.2f}",
                      flush=True)  # fmt: skip
    finished = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "kind": "byhand resnet18 step",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        **run.environment("cpu", args.threads, command),
        "batch": args.batch,
        "compile_s": compile_times,
        "graph_breaks": graph_breaks,
        "load_average_start": load_start,
        "load_average_end": run.load_average(),
        "rows": rows,
    }
    print(f"load average at the end {report['load_average_end']}; compile s {compile_times}; "
          f"graph breaks {graph_breaks}")  # fmt: skip
    if args.save:
        run.save_report(report, args.save, "resnet18-step-cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
