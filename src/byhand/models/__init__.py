"""Networks assembled from the hand-written blocks; each takes ``impl="byhand"|"torch"``."""

from byhand.models.namespace import namespace
from byhand.models.resnet import BasicBlock, ResNet, resnet18

__all__ = ["namespace", "BasicBlock", "ResNet", "resnet18"]
