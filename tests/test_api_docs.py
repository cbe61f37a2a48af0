"""The API reference (docs/api/, mkdocstrings) is only as good as the docstrings: every public
name of the documented packages has one, and every block taking tensors states their shapes."""

import importlib
import inspect
import re
import types

import pytest

PACKAGES = (
    "byhand.nn",
    "byhand.nn.functional",
    "byhand.optim",
    "byhand.optim.lr_scheduler",
    "byhand.classic",
    "byhand.train",
    "byhand.verify",
)
SHAPED = ("byhand.nn", "byhand.nn.functional")
# A shape written as in PyTorch's docs: (N, C, H, W), (*, in_features), (*), (N,)
SHAPE = re.compile(r"\(\s*[*A-Z][\w*′']*\s*(?:,\s*[\w*.…′'+\-/ ]*)*\)")
# Parameters that carry tensors: a block taking one of these must state shapes.
TENSOR_ARGUMENTS = {"input", "input1", "query", "src", "tgt", "anchor", "x", "x1", "loss"}
TENSOR_ARGUMENTS |= {"weight", "relative_position"}


def public(package):
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        # byhand.nn re-exports PyTorch's infrastructure (Module, Sequential, ...): not ours.
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith(
            "byhand"
        ):
            yield f"{package}.{name}", obj


NAMES = [item for package in PACKAGES for item in public(package)]


def test_there_are_names():
    assert len(NAMES) > 200


@pytest.mark.parametrize(("name", "obj"), NAMES, ids=[n for n, _ in NAMES])
def test_public_name_has_a_docstring(name, obj):
    assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def _shape_text(obj):
    text = inspect.getdoc(obj) or ""
    forward = vars(obj).get("forward") if inspect.isclass(obj) else None
    return text + "\n" + (inspect.getdoc(forward) or "" if forward else "")


def _takes_tensors(obj):
    target = obj.forward if inspect.isclass(obj) and hasattr(obj, "forward") else obj
    try:
        return bool(set(inspect.signature(target).parameters) & TENSOR_ARGUMENTS)
    except (TypeError, ValueError):
        return False


SHAPED_NAMES = [
    (name, obj)
    for name, obj in NAMES
    if name.rsplit(".", 1)[0] in SHAPED
    and not name.endswith(("_formula", "_derivative"))  # documented by the function they serve
    and _takes_tensors(obj)
]


@pytest.mark.parametrize(("name", "obj"), SHAPED_NAMES, ids=[n for n, _ in SHAPED_NAMES])
def test_block_docstring_states_shapes(name, obj):
    assert SHAPE.search(_shape_text(obj)), f"{name}: its docstring states no shape like (N, C)"


def test_the_shape_rule_can_fail():
    def undocumented(input):
        """Does something."""

    assert not SHAPE.search(_shape_text(undocumented))
    assert SHAPE.search("input ``(N, C, H, W)``") and SHAPE.search("``(*, in_features)``")


def test_every_package_has_a_reference_page():
    from pathlib import Path

    pages = Path(__file__).resolve().parents[1] / "docs" / "api"
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages.glob("*.md"))
    for package in ("byhand.nn", "byhand.nn.functional", "byhand.optim", "byhand.classic"):
        assert f"::: {package}\n" in text + "\n", package
    assert "::: byhand.train." in text and "::: byhand.verify" in text
    assert isinstance(importlib.import_module("byhand.train"), types.ModuleType)
