"""The registry: one entry per hand-written block, naming its twin (or oracle) and its inputs.

One module per chapter (``linear.py``, ``conv.py``, ``activations.py``, ``losses.py``, ...),
each defining ``ENTRIES``; ``REGISTRY`` below is the one table they make together. Tests
(``tests/test_registry.py``), ``python -m byhand.verify``, the docs build (the Verification
page and each block's "Checked against" box) and ``benchmarks/`` all read it.
"""

from byhand.verify.registry import activations as _activations
from byhand.verify.registry import classic as _classic
from byhand.verify.registry import conv as _conv
from byhand.verify.registry import layers as _layers
from byhand.verify.registry import linear as _linear
from byhand.verify.registry import losses as _losses
from byhand.verify.registry import models as _models
from byhand.verify.registry import optim as _optim
from byhand.verify.registry import sequence as _sequence

REGISTRY = (
    *_linear.ENTRIES,
    *_conv.ENTRIES,
    *_activations.ENTRIES,
    *_layers.ENTRIES,
    *_losses.ENTRIES,
    *_optim.ENTRIES,
    *_classic.ENTRIES,
    *_sequence.ENTRIES,
    *_models.ENTRIES,
)


def entry(name):
    """The registry entry called ``name`` (e.g. ``"nn.Linear"``)."""
    for item in REGISTRY:
        if item.name == name:
            return item
    raise KeyError(
        f"no registry entry named {name!r}; known: {', '.join(e.name for e in REGISTRY)}"
    )
