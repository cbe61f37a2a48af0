"""PyTorch's own test inputs (``module_db``, ``optim_db``) against every byhand class that has them.

One test per class, input and mode, on the CPU and, when present, CUDA. A ``skip`` result becomes a
pytest skip carrying byhand's own error message, so ``pytest -rs`` lists every declined input with
its reason; a mismatch is always a failure.
"""

import functools

import pytest
import torch

from byhand.verify import torch_tables

# CUDA ids exist only where CUDA does, so a CPU run's skips are all declined inputs with reasons.
DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@functools.cache
def _inputs(info, device, training):
    """PyTorch's inputs for one class, made once per (device, mode) rather than once per test."""
    return torch_tables.module_inputs(info, device, torch.float64, training)


@functools.cache
def _optim_inputs(info, device):
    return info.optim_inputs_func(device=device, dtype=torch.float64)


def _module_cases():
    cases = []
    for info, ours in torch_tables.module_entries():
        for training in (True, False):
            inputs = _inputs(info, "cpu", training)
            for index, module_input in enumerate(inputs):
                mode = "train" if training else "eval"
                label = f"{info.module_cls.__name__}-{module_input.desc or 'default'}-{mode}-{index}"
                cases.append(pytest.param(info, ours, training, index, id=label))
    return cases


def _optimizer_cases():
    cases = []
    for info, ours in torch_tables.optimizer_entries():
        for index, optim_input in enumerate(_optim_inputs(info, "cpu")):
            label = f"{info.optim_cls.__name__}-{optim_input.desc or 'default'}-{index}"
            cases.append(pytest.param(info, ours, index, id=label))
    return cases


def _check(result):
    if result.status == "skip":
        pytest.skip(f"{result.name} [{result.desc}]: {result.reason}")
    assert result.status == "pass", (
        f"{result.name} [{result.desc}, {result.mode}]: {result.reason}"
    )
    assert result.max_abs_err, "a check that compared nothing"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("info", "ours", "training", "index"), _module_cases())
def test_module_db(info, ours, training, index, device):
    module_input = _inputs(info, device, training)[index]
    _check(torch_tables.run_module_input(info, ours, module_input, training, device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("info", "ours", "index"), _optimizer_cases())
def test_optim_db(info, ours, index, device):
    optim_input = _optim_inputs(info, device)[index]
    _check(torch_tables.run_optimizer_input(info, ours, optim_input, device))


@pytest.mark.filterwarnings("ignore:optimizer contains a parameter group with duplicate")
@pytest.mark.parametrize(
    ("info", "ours"),
    torch_tables.optimizer_entries(),
    ids=lambda x: getattr(getattr(x, "optim_cls", x), "__name__", str(x)),
)
def test_optim_db_error_inputs(info, ours):
    """Every construction-time error input of PyTorch's table raises the same type in ours."""
    results = [
        torch_tables.run_optimizer_error(info, ours, e)
        for e in info.optim_error_inputs_func(device="cpu", dtype=torch.float64)
    ]
    results = [r for r in results if r is not None]
    assert results, (
        f"optim_db has no construction-time error inputs for {info.optim_cls.__name__}"
    )
    failed = [f"[{r.desc}] {r.reason}" for r in results if r.status != "pass"]
    assert not failed, "; ".join(failed)


def test_tables_cover_the_first_slice():
    """The classes of the first slice are found in PyTorch's tables (the lookup is by name)."""
    names = {info.module_cls.__name__ for info, _ in torch_tables.module_entries()}
    assert {"Linear", "ReLU", "Sigmoid", "Tanh", "MSELoss", "CrossEntropyLoss"} <= names
    assert "SGD" in {info.optim_cls.__name__ for info, _ in torch_tables.optimizer_entries()}
