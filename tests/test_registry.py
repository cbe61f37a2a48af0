"""One test per registry entry, case, mode and device: ours against theirs, in float64."""

import re
from pathlib import Path

import pytest
import torch

from byhand.verify import REGISTRY, ModulePair

ROOT = Path(__file__).resolve().parents[1]
# CUDA ids exist only where CUDA does (a GPU run checks both devices).
DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
CHECKS = [
    pytest.param(entry, case, mode, id=f"{entry.name}[{case.label}-{mode}]")
    for entry in REGISTRY
    for case, mode in entry.ids()
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("entry", "case", "mode"), CHECKS)
def test_parity(entry, case, mode, device):
    result = entry.check(case, mode, device=device, dtype=torch.float64)
    assert result.passed, f"{entry.name} [{case.label}, {mode}, {device}]: " + "; ".join(
        result.failures
    )
    assert result.max_abs_err, "a check that compared nothing"
    if entry.kind == "oracle" and isinstance(entry, ModulePair):  # optimizers have no backward
        assert result.gradcheck is True


def test_names_are_unique():
    names = [entry.name for entry in REGISTRY]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda e: e.name)
def test_page_shows_its_check(entry):
    page = ROOT / "docs" / entry.page
    assert page.is_file(), f"{entry.name}: page {entry.page} does not exist"
    markers = re.findall(r"<!--\s*byhand:checked\s+([^>]*?)\s*-->", page.read_text())
    boxed = {name for marker in markers for name in marker.split()}
    assert entry.name in boxed, f"{entry.page} has no box for {entry.name}"
