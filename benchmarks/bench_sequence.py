"""Speed goals of the sequence chapter, ours / PyTorch, forward + backward, float32, CPU:

    python benchmarks/bench_sequence.py [--threads N] [--repeat N]

* ``scaled_dot_product_attention`` on (8, 8, 256, 64) against ``F.scaled_dot_product_attention``
  (goal ≤ 1.2×), and the textbook three-liner (autograd through matmul, softmax, matmul);
* ``LSTM`` 2 layers, hidden 256, length 64, batch 32 against ``torch.nn.LSTM`` (goal ≤ 2.5×).

Ours and theirs are interleaved so machine load hits both; the median of each is reported.
"""

import argparse
import math
import statistics
import time

import torch

import byhand


def _median_ms(step, repeat):
    step()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def attention_steps():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(8, 8, 256, 64, generator=g, requires_grad=True) for _ in range(3))

    def textbook(q, k, v):
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v

    def step(fn):
        return lambda: fn(q, k, v).sum().backward()

    return {
        "ours": step(byhand.nn.functional.scaled_dot_product_attention),
        "torch": step(torch.nn.functional.scaled_dot_product_attention),
        "textbook": step(textbook),
    }


def lstm_steps():
    x = torch.randn(64, 32, 256, generator=torch.Generator().manual_seed(0), requires_grad=True)
    torch.manual_seed(0)
    ours = byhand.nn.LSTM(256, 256, num_layers=2)
    theirs = torch.nn.LSTM(256, 256, num_layers=2)
    theirs.load_state_dict(ours.state_dict())
    return {
        "ours": lambda: ours(x)[0].sum().backward(),
        "torch": lambda: theirs(x)[0].sum().backward(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, float32, forward+backward")
    for name, steps in (
        ("attention (8, 8, 256, 64)", attention_steps()),
        ("LSTM", lstm_steps()),
    ):
        timings = {key: [] for key in steps}
        for _ in range(args.rounds):
            for key, step in steps.items():
                timings[key].append(_median_ms(step, args.repeat))
        medians = {key: statistics.median(value) for key, value in timings.items()}
        text = ", ".join(
            f"{key} {ms:.1f} ms ({ms / medians['torch']:.2f}×)" for key, ms in medians.items()
        )
        print(f"{name}: {text}")


if __name__ == "__main__":
    main()
