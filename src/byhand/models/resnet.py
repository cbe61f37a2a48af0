"""ResNet-18 for 32×32 images (CIFAR): He et al. 2016's residual network, written once against
a module namespace so that ``impl="byhand"`` and ``impl="torch"`` are the same code.

The CIFAR variant keeps the 32×32 resolution at the stem (a 3×3 convolution, stride 1, no
max-pool), then four stages of two ``BasicBlock``\\ s at 64, 128, 256 and 512 channels, each
stage after the first halving the resolution with stride 2 and a 1×1 projection shortcut;
global average pooling and one ``Linear`` give the scores. State-dict keys follow torchvision's
``resnet18`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``).
"""

import torch

from byhand.models.namespace import namespace

__all__ = ["BasicBlock", "ResNet", "resnet18"]


# --8<-- [start:block]
class BasicBlock(torch.nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, two 3×3 convolutions.

    ``(N, C_in, H, W) → (N, C_out, H / stride, W / stride)``; the shortcut is the identity,
    or a strided 1×1 convolution + batch norm when the shape changes.
    """

    def __init__(self, nn, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


# --8<-- [end:block]


# --8<-- [start:resnet]
class ResNet(torch.nn.Module):
    """Stem, four stages of ``blocks[i]`` BasicBlocks, average pool, ``Linear``.

    ``(N, 3, H, W) → (N, num_classes)``; ``width`` is the first stage's channel count (64 for
    ResNet-18; the stages have ``width · (1, 2, 4, 8)``).
    """

    def __init__(self, nn, blocks=(2, 2, 2, 2), num_classes=10, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)  # CIFAR stem: 3×3, stride 1
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        channels = width
        for index, count in enumerate(blocks):
            out_channels = width * 2**index
            stride = 1 if index == 0 else 2
            stage = []
            for _ in range(count):
                stage.append(BasicBlock(nn, channels, out_channels, stride))
                channels, stride = out_channels, 1
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


# --8<-- [end:resnet]


def resnet18(num_classes=10, *, impl="byhand", width=64):
    """ResNet-18, CIFAR variant, from ``byhand.nn`` (``impl="byhand"``) or ``torch.nn``.

    Both implementations are this same code with the namespace swapped: the same modules in
    the same order, so from the same seed they hold the same initial weights and their
    state_dicts have the same keys. ``width`` < 64 makes the narrow copies tests use.
    """
    return ResNet(namespace(impl), (2, 2, 2, 2), num_classes, width)
