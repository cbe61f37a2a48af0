"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``.

Constructor arguments, defaults and attributes as ``torch.nn``; no parameters, no buffers. The
maths lives in ``byhand.nn.functional.pooling``.
"""

import torch

from byhand.nn import functional as F

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]


# --8<-- [start:MaxPool2d]
class MaxPool2d(torch.nn.Module):
    """Max over ``kernel_size`` windows of ``(N, C, H, W)`` or ``(C, H, W)``."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices=False,
        ceil_mode=False,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


# --8<-- [end:MaxPool2d]


# --8<-- [start:AvgPool2d]
class AvgPool2d(torch.nn.Module):
    """Mean over ``kernel_size`` windows of ``(N, C, H, W)`` or ``(C, H, W)``."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# --8<-- [end:AvgPool2d]


# --8<-- [start:AdaptivePool2d]
class AdaptiveAvgPool2d(torch.nn.Module):
    """Average into a fixed ``output_size`` whatever the input's ``(H, W)``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(torch.nn.Module):
    """Max into a fixed ``output_size``; ``return_indices`` as ``MaxPool2d``.

    Shapes: ``input`` ``(N, C, H, W)`` or ``(C, H, W)``; returns ``(N, C, h, w)`` with ``(h, w)
    = output_size``.
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


# --8<-- [end:AdaptivePool2d]
