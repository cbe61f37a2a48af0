"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` and three variants.

Same constructor arguments, defaults, attribute and parameter names as ``torch.nn``; the same
initial weights from the same seed (Kaiming-uniform with ``a = √5``, then the bias). The maths
lives in ``byhand.nn.functional.conv``.
"""

import math

import torch

from byhand.nn import functional as F
from byhand.nn import init
from byhand.nn.functional.layout import like_input

__all__ = [
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "DepthwiseSeparableConv2d",
    "DeformableConv2d",
    "OctaveConv2d",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value, n):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    return value * n if len(value) == 1 else value


# --8<-- [start:conv_base]
class _ConvNd(torch.nn.Module):
    """What every conv layer shares: argument checks, the weight and bias, their init."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed,
        output_padding,
        groups,
        bias,
        padding_mode,
        dims,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: padding must be 'same', 'valid' or ints, got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in _tuple(stride, dims)):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions, "
                    f"got stride={stride}"
                )
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _tuple(kernel_size, dims)
        self.stride = _tuple(stride, dims)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, dims)
        self.dilation = _tuple(dilation, dims)
        self.transposed = transposed
        self.output_padding = _tuple(output_padding, dims)
        self.groups = groups
        self.padding_mode = padding_mode
        shape = (
            (in_channels, out_channels // groups)
            if transposed
            else (out_channels, in_channels // groups)
        )
        factory = {"device": device, "dtype": dtype}
        self.weight = torch.nn.Parameter(torch.empty(*shape, *self.kernel_size, **factory))
        self.bias = torch.nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # U(-1/√fan_in, 1/√fan_in) for both, fan_in = weight.shape[1] · kernel area
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = init.calculate_fan_in(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _pad_for_mode(self, input):
        """Pad ``input`` for a non-zero ``padding_mode``; returns it and the padding left."""
        if self.padding_mode == "zeros":
            return input, self.padding
        dims = len(self.kernel_size)
        if self.padding == "same":
            pads = []
            for k, d in zip(reversed(self.kernel_size), reversed(self.dilation)):
                pads += [d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2]
        elif self.padding == "valid":
            return input, 0
        else:
            pads = [p for p in reversed(self.padding) for _ in range(2)]
        padded = F.pad(input, pads, mode=self.padding_mode)
        if self.padding_mode != "circular":  # PyTorch keeps channels_last except for circular
            padded = like_input(padded, input)
        return padded, (0,) * dims

    def _check_input(self, input, dims):
        name = type(self).__name__
        shape = "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"
        if input.dim() not in (dims + 1, dims + 2):
            raise RuntimeError(f"{name} expects {shape} input, got shape {tuple(input.shape)}")
        channels = input.shape[-dims - 1]
        if channels != self.in_channels:
            raise RuntimeError(
                f"{name} expects input with in_channels={self.in_channels} channels, "
                f"got {channels} (input shape {tuple(input.shape)})"
            )

    def extra_repr(self):
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.kernel_size):
            text += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


# --8<-- [end:conv_base]


# --8<-- [start:Conv2d]
class Conv2d(_ConvNd):
    """2-D conv of ``(N, C, H, W)`` or ``(C, H, W)``; weight ``(O, C/groups, kh, kw)``."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            2,
            device,
            dtype,
        )

    def forward(self, input):
        self._check_input(input, 2)
        input, padding = self._pad_for_mode(input)
        return F.conv2d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


# --8<-- [end:Conv2d]


# --8<-- [start:Conv1d]
class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C, L)`` or ``(C, L)``; weight ``(O, C/groups, k)``."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            1,
            device,
            dtype,
        )

    def forward(self, input):
        self._check_input(input, 1)
        input, padding = self._pad_for_mode(input)
        return F.conv1d(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


# --8<-- [end:Conv1d]


# --8<-- [start:ConvTranspose2d]
class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution: the input gradient of a ``Conv2d`` with the same arguments.

    Weight ``(C, O/groups, kh, kw)``; ``forward(input, output_size=None)`` picks the
    ``output_padding`` that reaches ``output_size`` when one is given.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        if padding_mode != "zeros":
            raise ValueError(
                f'ConvTranspose2d supports only "zeros" padding_mode, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d takes integer padding, got {padding!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            2,
            device,
            dtype,
        )

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-2:]
        padding = []
        for axis in range(2):
            smallest = (
                (input.shape[-2 + axis] - 1) * self.stride[axis]
                - 2 * self.padding[axis]
                + self.dilation[axis] * (self.kernel_size[axis] - 1)
                + 1
            )
            extra = output_size[axis] - smallest
            if not 0 <= extra < max(self.stride[axis], self.dilation[axis]):
                raise ValueError(
                    f"ConvTranspose2d: requested output size {output_size} is not reachable: "
                    f"sizes from {smallest} to "
                    f"{smallest + max(self.stride[axis], self.dilation[axis]) - 1} along "
                    f"axis {axis} are"
                )
            padding.append(extra)
        return tuple(padding)

    def forward(self, input, output_size=None):
        self._check_input(input, 2)
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )


# --8<-- [end:ConvTranspose2d]


# --8<-- [start:DepthwiseSeparableConv2d]
class DepthwiseSeparableConv2d(torch.nn.Module):
    """A depthwise ``Conv2d(C, C·m, k, groups=C)`` then a pointwise ``Conv2d(C·m, O, 1)``.

    Parameters ``C·m·k² + C·m·O`` (plus biases) against ``C·O·k²`` for a full ``Conv2d``.

    Shapes: ``input`` ``(N, C, H, W)``; returns ``(N, O, H', W')``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        padding_mode="zeros",
        depth_multiplier=1,
        device=None,
        dtype=None,
    ):
        super().__init__()
        hidden = in_channels * depth_multiplier
        factory = {"device": device, "dtype": dtype}
        self.depthwise = Conv2d(
            in_channels,
            hidden,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            bias=bias,
            padding_mode=padding_mode,
            **factory,
        )
        self.pointwise = Conv2d(hidden, out_channels, 1, bias=bias, **factory)

    def forward(self, input):
        return self.pointwise(self.depthwise(input))


# --8<-- [end:DepthwiseSeparableConv2d]


# --8<-- [start:DeformableConv2d]
class DeformableConv2d(_ConvNd):
    """Deformable conv (DCNv2 with a ``mask``), arguments as torchvision's ``DeformConv2d``.

    ``forward(input, offset, mask=None)``: ``offset (N, 2·G·kh·kw, Ho, Wo)`` moves each tap
    of each output by ``(Δy, Δx)``; usually predicted by a plain ``Conv2d`` from the input.

    Shapes: ``input`` ``(N, C, H, W)``, ``offset`` ``(N, 2·G·kh·kw, H', W')``, ``mask`` ``(N,
    G·kh·kw, H', W')``; returns ``(N, O, H', W')``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            "zeros",
            2,
            device,
            dtype,
        )

    def forward(self, input, offset, mask=None):
        self._check_input(input, 2)
        return F.deform_conv2d(
            input,
            offset,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            mask,
        )


# --8<-- [end:DeformableConv2d]


# --8<-- [start:OctaveConv2d]
class OctaveConv2d(torch.nn.Module):
    """Octave convolution: a high-frequency map at full and a low one at half resolution.

    ``alpha_in`` / ``alpha_out`` are the low-frequency share of the in / out channels. One
    ``weight (O, C, k, k)`` is cut into four blocks: high→high, low→high (then upsampled ×2),
    high→low (on the 2×2-average-pooled high map) and low→low. ``forward(input, input_low)``
    takes the two maps (or one, when ``alpha_in = 0``, or a ``(high, low)`` tuple) and
    returns ``(high, low)``, or the high map alone when ``alpha_out = 0``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        alpha_in=0.5,
        alpha_out=0.5,
        stride=1,
        padding=0,
        dilation=1,
        bias=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if not (0 <= alpha_in < 1 and 0 <= alpha_out < 1):
            raise ValueError(
                f"OctaveConv2d: alpha_in and alpha_out must be in [0, 1), "
                f"got {alpha_in}, {alpha_out}"
            )
        if stride not in (1, 2):
            raise ValueError(f"OctaveConv2d: stride must be 1 or 2, got {stride}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _tuple(kernel_size, 2)
        self.alpha_in, self.alpha_out = alpha_in, alpha_out
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.in_low = int(alpha_in * in_channels)
        self.out_low = int(alpha_out * out_channels)
        factory = {"device": device, "dtype": dtype}
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = torch.nn.Parameter(torch.empty(shape, **factory))
        self.bias = torch.nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        _ConvNd.reset_parameters(self)

    def forward(self, input, input_low=None):
        if isinstance(input, (tuple, list)):
            input, input_low = input
        if (input_low is None) != (self.in_low == 0):
            raise ValueError(
                f"OctaveConv2d with {self.in_low} low-frequency input channels expects "
                f"{'a low-frequency map' if self.in_low else 'no low-frequency map'}"
            )
        return F.octave_conv2d(
            input,
            input_low,
            self.weight,
            self.bias,
            self.out_low,
            self.stride,
            self.padding,
            self.dilation,
        )


# --8<-- [end:OctaveConv2d]
