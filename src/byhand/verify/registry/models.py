"""Registry chapter: whole networks (docs/training/engine.md, the recipes' models).

``models.resnet18`` builds the same code twice, once from ``byhand.nn`` and once from
``torch.nn`` (``impl=``): from one seed both hold the same weights (checked as ``init``), and
the check compares the logits, the input gradient, every parameter gradient and every batch
norm buffer after the step, in train and eval mode. The architecture is ResNet-18's; the
width is 8 (the stages 8-16-32-64) and the images 8×8, so that float64 costs under a second:
the code is the same at width 64, only the channel counts grow.
"""

from byhand.models import resnet18
from byhand.verify.pairs import Case, ModulePair
from byhand.verify.registry._inputs import randn

ENGINE = "training/engine.md"


def _byhand_resnet18(**kwargs):
    return resnet18(impl="byhand", **kwargs)


def _torch_resnet18(**kwargs):
    return resnet18(impl="torch", **kwargs)


ENTRIES = (
    ModulePair(
        name="models.resnet18",
        reference="the same ResNet-18 code built from torch.nn (impl='torch')",
        ours=_byhand_resnet18,
        theirs=_torch_resnet18,
        inputs=randn(4, 3, 8, 8),
        page=ENGINE,
        cases=(Case("width 8, 10 classes, 4×3×8×8", dict(num_classes=10, width=8)),),
    ),
)
