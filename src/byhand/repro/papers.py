"""The specs of the results the case studies reproduce, read from their sources.

``HE2016_CIFAR``: He, Zhang, Ren, Sun, *Deep Residual Learning for Image Recognition*
(CVPR 2016), §4.2 "CIFAR-10 and Analysis" and Table 6. ``RESNET18_CIFAR_RECIPE``: the
widely used ResNet-18 recipe of kuangliu/pytorch-cifar (``main.py``, ``models/resnet.py``,
README), the one ``byhand train resnet18-cifar10`` follows. What each states is quoted from
the source; what it omits and what we use instead is ours.
"""

from byhand.repro.spec import PaperSpec

__all__ = ["HE2016_CIFAR", "RESNET18_CIFAR_RECIPE", "SPECS"]

HE2016_CIFAR = PaperSpec(
    title="Deep Residual Learning for Image Recognition",
    authors=["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"],
    year=2016,
    url="https://arxiv.org/abs/1512.03385",
    source="§4.2 (CIFAR-10 and Analysis), Table 6",
    stated={
        "networks": "ResNet-20/32/44/56/110: a 3×3 conv, then 3 stages of 2n layers "
        "(6n+2 in all) on 32×32, 16×16, 8×8 maps",
        "filters per stage": "16, 32, 64",
        "down-sampling": "3×3 convolutions with stride 2",
        "shortcuts": "identity in all cases (option A: zero-padding for more channels)",
        "head": "global average pooling, 10-way fully-connected, softmax",
        "batch norm": "after each convolution, before the activation (§3.4)",
        "initialisation": "He et al. 2015 ([13])",
        "dropout": "none",
        "optimizer": "SGD, momentum 0.9, weight decay 1e-4",
        "batch size": "128, on two GPUs",
        "learning rate": "0.1, divided by 10 at 32k and 48k iterations",
        "length": "64k iterations",
        "schedule chosen on": "a 45k/5k train/val split",
        "input": "32×32 images, per-pixel mean subtracted",
        "augmentation": "4 pixels padded on each side, a random 32×32 crop or its "
        "horizontal flip",
        "testing": "the single view of the original 32×32 image",
        "ResNet-110 warm-up": "lr 0.01 until training error < 80% (about 400 iterations)",
    },
    omitted=[
        "padding value of the 4-pixel pad",
        "probability of the flip",
        "batch norm momentum and epsilon",
        "batch norm statistics across the two GPUs",
        "weight decay on batch norm and biases",
        "initialisation fan mode",
        "Nesterov momentum",
        "final training set (45k or all 50k)",
        "runs per number (only ResNet-110: best of 5)",
    ],
    assumed={
        "batch size": "128 on one device",
        "input": "per-channel mean and std normalisation",
        "padding value of the 4-pixel pad": "zeros",
        "probability of the flip": "0.5",
        "batch norm momentum and epsilon": "0.1 and 1e-5 (PyTorch's defaults)",
        "batch norm statistics across the two GPUs": "one device: statistics over all 128",
        "weight decay on batch norm and biases": "yes (every parameter)",
        "initialisation fan mode": "fan-out (as torchvision's ResNet)",
        "Nesterov momentum": "no",
        "final training set (45k or all 50k)": "all 50k",
    },
    reported={
        "ResNet-20 test error %": 8.75,
        "ResNet-32 test error %": 7.51,
        "ResNet-44 test error %": 7.17,
        "ResNet-56 test error %": 6.97,
        "ResNet-110 test error % (best of 5)": 6.43,
    },
)

SCHEDULE_OF_93 = (
    "the schedule behind 93.02% (a README version describes lr 0.1, 0.01, 0.001 "
    "changed by hand at epochs 150 and 250 of 350)"
)
RESNET18_CIFAR_RECIPE = PaperSpec(
    title="kuangliu/pytorch-cifar: ResNet-18 on CIFAR-10",
    authors=["Kuang Liu"],
    url="https://github.com/kuangliu/pytorch-cifar",
    source="main.py, models/resnet.py, README (a reference implementation, not a paper)",
    stated={
        "model": "ResNet-18, CIFAR variant: 3×3 stem with 64 filters, no max-pool, "
        "4 stages of 2 BasicBlocks (64, 128, 256, 512), 1×1 conv + BN projection shortcuts",
        "optimizer": "SGD, lr 0.1, momentum 0.9, weight decay 5e-4",
        "schedule": "CosineAnnealingLR(T_max=200), stepped once per epoch, 200 epochs",
        "batch size": "128 (test 100)",
        "augmentation": "RandomCrop(32, padding=4), RandomHorizontalFlip",
        "normalisation": "mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010)",
        "reported number": "the best test accuracy over epochs (saved when it improves)",
        "devices": "DataParallel over every visible GPU",
    },
    omitted=[
        SCHEDULE_OF_93,
        "number of GPUs (DataParallel's batch norm is per GPU)",
        "number of runs and seeds",
    ],
    assumed={
        "schedule": "cosine over the 200 epochs' steps, updated every step",
        "normalisation": "the training set's own per-channel mean and std, computed on load",
        "reported number": "the final epoch's accuracy, not the best on the test set",
        "devices": "one device",
        SCHEDULE_OF_93: "cosine over 200 epochs (main.py)",
        "number of GPUs (DataParallel's batch norm is per GPU)": "one: batch norm over all 128",
    },
    reported={"test accuracy %": 93.02},
)

SPECS = {"he2016-cifar": HE2016_CIFAR, "resnet18-cifar-recipe": RESNET18_CIFAR_RECIPE}
