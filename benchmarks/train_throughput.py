"""Training throughput of a ResNet-18-shaped convnet on 32×32 inputs: fp32 eager, bf16 autocast +
channels_last, and the same + torch.compile, in one run, on synthetic data.

    python benchmarks/train_throughput.py [--device cuda] [--batch-size 256] [--steps 50]
    python benchmarks/train_throughput.py --cpu-short        # width 8, batch 16, 5 steps

Prints samples/s per mode and the ratio over fp32 eager; ``--json PATH`` also writes them with
the machine's name and the date. The model is CIFAR-style ResNet-18 (3×3 stem, four stages of
two basic blocks, widths w, 2w, 4w, 8w) built from ``torch.nn``: byhand has no convolution or
batch norm yet, so this measures the engine's settings, not byhand's blocks.
"""

import argparse
import datetime
import json
import os
import platform
import time

import torch
from torch import nn

from byhand.train import amp
from byhand.train.device import choose_device


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet18(width=64, classes=10):
    """CIFAR-style ResNet-18: (N, 3, 32, 32) → (N, classes)."""
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    cin = width
    for i, cout in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for j in range(2):
            layers.append(BasicBlock(cin, cout, 2 if i > 0 and j == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


MODES = {
    "fp32 eager": dict(precision="fp32", channels_last=False, compile=False),
    "bf16 + channels_last": dict(precision="bf16", channels_last=True, compile=False),
    "bf16 + channels_last + compile": dict(precision="bf16", channels_last=True, compile=True),
}


def measure(mode, device, batch_size, steps, warmup, width):
    """Samples per second of full training steps (forward, backward, SGD) in ``mode``."""
    torch.manual_seed(0)
    model = resnet18(width).to(device)
    images = torch.randn(batch_size, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    if mode["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step_model = torch.compile(model) if mode["compile"] else model
    loss_fn = nn.CrossEntropyLoss()

    def step():
        with amp.autocast(device, mode["precision"]):
            loss = loss_fn(step_model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    started = time.perf_counter()
    for _ in range(warmup):  # compilation and cuDNN autotuning happen here
        step()
    sync(device)
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch_size * steps / (time.perf_counter() - started), warmup_seconds


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--width", type=int, default=64, help="channels of the first stage")
    parser.add_argument(
        "--cpu-short",
        action="store_true",
        help="CPU, width 8, batch 16, 2 warm-up + 5 timed steps",
    )
    parser.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES))
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if args.cpu_short:
        args.device, args.width, args.batch_size, args.steps, args.warmup = "cpu", 8, 16, 5, 2
    device = choose_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(
        f"ResNet-18-shaped (width {args.width}), 32x32, batch {args.batch_size}, "
        f"{args.steps} steps on {machine(device)}, torch {torch.__version__}"
    )
    print(
        f"{'mode':32}  {'samples/s':>10}  {'vs fp32 eager':>13}  {'warm-up s':>9}", flush=True
    )
    rows, base = [], None
    for name in args.modes:
        rate, warmup_seconds = measure(
            MODES[name], device, args.batch_size, args.steps, args.warmup, args.width
        )
        base = rate if name == "fp32 eager" else base
        ratio = rate / base if base else None
        rows.append(
            {
                "mode": name,
                "samples_per_s": rate,
                "vs_fp32_eager": ratio,
                "warmup_seconds": warmup_seconds,
            }
        )
        shown = f"{ratio:.2f}x" if ratio else "-"
        print(f"{name:32}  {rate:10.1f}  {shown:>13}  {warmup_seconds:9.1f}", flush=True)
    if args.json:
        result = {
            "date": datetime.date.today().isoformat(),
            "machine": machine(device),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "torch": torch.__version__,
            "width": args.width,
            "batch_size": args.batch_size,
            "steps": args.steps,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
