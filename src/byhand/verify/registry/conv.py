"""Registry chapter: convolution and pooling (docs/modules/convolution.md, conv-variants.md,
pooling.md).

Twins for the layers ``torch.nn`` has; oracles, written here with PyTorch's own ops, for the
three variants it has not: ``DepthwiseSeparableConv2d`` (two ``torch.nn.Conv2d``),
``DeformableConv2d`` (sampling by ``torch.nn.functional.grid_sample``) and ``OctaveConv2d``
(four plain convs with pooling and upsampling written out).
"""

import math

import torch

import byhand
from byhand.verify.pairs import Args, Case, ModulePair, family, twin
from byhand.verify.registry._inputs import randn

CONVOLUTION, VARIANTS, POOLING = (
    "modules/convolution.md",
    "modules/conv-variants.md",
    "modules/pooling.md",
)


def channels_last(*shape):
    """One ``randn`` input of ``shape`` stored channels-last (NHWC in memory)."""
    return lambda g, dtype: (
        torch.randn(*shape, generator=g, dtype=dtype).to(memory_format=torch.channels_last),
    )


def ties(*shape):
    """Small integers, so many windows hold their maximum more than once."""
    return lambda g, dtype: (torch.randint(0, 3, shape, generator=g).to(dtype),)


def _conv2d_through(function):
    """``byhand.nn.Conv2d`` whose forward calls ``function`` (a teaching implementation)."""

    class Conv2dThrough(byhand.nn.Conv2d):
        def forward(self, input):
            return function(
                input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                self.groups,
            )  # fmt: skip

    Conv2dThrough.__name__ = f"Conv2d via {function.__name__}"
    return Conv2dThrough


TEACHING_CASES = (
    Case("4→5, k3", dict(in_channels=4, out_channels=5, kernel_size=3)),
    Case(
        "k(2,3), stride (2,1), pad 1, dilation 2, groups 2",
        dict(
            in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(2, 1), padding=1,
            dilation=2, groups=2,
        ),
    ),
    Case("padding='same', no bias", dict(in_channels=4, out_channels=2, kernel_size=4,
                                         padding="same", bias=False)),
)  # fmt: skip

# The speed issue's shapes: the plain case, then stride 2, 1×1, depthwise and channels_last.
CONV2D_BENCH = (
    Case(
        "(32,64,32,32) 64→64 k3 p1",
        dict(in_channels=64, out_channels=64, kernel_size=3, padding=1),
        inputs=randn(32, 64, 32, 32),
    ),
    Case(
        "(32,64,32,32) 64→64 k3 s2 p1",
        dict(in_channels=64, out_channels=64, kernel_size=3, stride=2, padding=1),
        inputs=randn(32, 64, 32, 32),
    ),
    Case(
        "(32,64,32,32) 64→64 k1",
        dict(in_channels=64, out_channels=64, kernel_size=1),
        inputs=randn(32, 64, 32, 32),
    ),
    Case(
        "(32,64,32,32) depthwise k3 p1",
        dict(in_channels=64, out_channels=64, kernel_size=3, padding=1, groups=64),
        inputs=randn(32, 64, 32, 32),
    ),
    Case(
        "(32,64,32,32) k3 p1 channels_last",
        dict(in_channels=64, out_channels=64, kernel_size=3, padding=1),
        inputs=channels_last(32, 64, 32, 32),
    ),
    # ResNet-18's deep stages: 8×8 at 256 channels, 4×4 at 512, and the stride-2 entry
    Case(
        "(32,256,8,8) 256→256 k3 p1",
        dict(in_channels=256, out_channels=256, kernel_size=3, padding=1),
        inputs=randn(32, 256, 8, 8),
    ),
    Case(
        "(32,256,8,8) 256→512 k3 s2 p1",
        dict(in_channels=256, out_channels=512, kernel_size=3, stride=2, padding=1),
        inputs=randn(32, 256, 8, 8),
    ),
    Case(
        "(32,512,4,4) 512→512 k3 p1",
        dict(in_channels=512, out_channels=512, kernel_size=3, padding=1),
        inputs=randn(32, 512, 4, 4),
    ),
)

# --8<-- [start:conv]
CONV = (
    twin(
        "nn.Conv2d",
        inputs=randn(2, 4, 7, 9),
        cases=(
            Case("4→6, k3", dict(in_channels=4, out_channels=6, kernel_size=3)),
            Case("stride 2, pad 1", dict(in_channels=4, out_channels=6, kernel_size=3,
                                         stride=2, padding=1)),
            Case("k(2,3), stride (2,1), dilation (2,1)", dict(
                in_channels=4, out_channels=5, kernel_size=(2, 3), stride=(2, 1),
                padding=(0, 2), dilation=(2, 1))),
            Case("groups 2, no bias", dict(in_channels=4, out_channels=6, kernel_size=3,
                                           groups=2, bias=False)),
            Case("depthwise ×2", dict(in_channels=4, out_channels=8, kernel_size=3,
                                      padding=1, groups=4)),
            Case("depthwise, stride 2", dict(in_channels=4, out_channels=4, kernel_size=3,
                                             stride=2, groups=4)),
            Case("padding='same', k4, dilation 2", dict(in_channels=4, out_channels=3,
                                                        kernel_size=4, padding="same",
                                                        dilation=2)),
            Case("padding='valid', k1", dict(in_channels=4, out_channels=3, kernel_size=1,
                                             padding="valid")),
            *(
                Case(f"padding_mode {mode}", dict(in_channels=4, out_channels=3,
                                                  kernel_size=3, padding=(1, 2),
                                                  padding_mode=mode))
                for mode in ("reflect", "replicate", "circular")
            ),
            Case("batch of 1", dict(in_channels=4, out_channels=6, kernel_size=3, padding=1),
                 inputs=randn(1, 4, 5, 5)),
            Case("unbatched (C, H, W)", dict(in_channels=4, out_channels=6, kernel_size=3),
                 inputs=randn(4, 5, 6)),
            Case("channels_last input", dict(in_channels=4, out_channels=6, kernel_size=3,
                                             padding=1), inputs=channels_last(2, 4, 6, 5)),
        ),
        modes=("train",),
        page=CONVOLUTION,
        bench=CONV2D_BENCH,
    ),
    ModulePair(
        name="nn.functional.conv2d_loop",
        reference="torch.nn.Conv2d",
        ours=_conv2d_through(byhand.nn.functional.conv2d_loop),
        theirs=torch.nn.Conv2d,
        inputs=randn(2, 4, 6, 7),
        cases=TEACHING_CASES,
        modes=("train",),
        page=CONVOLUTION,
        bench=Case("(2,16,12,12) 16→16 k3 p1", dict(in_channels=16, out_channels=16,
                                                    kernel_size=3, padding=1),
                   inputs=randn(2, 16, 12, 12)),
    ),
    ModulePair(
        name="nn.functional.conv2d_im2col",
        reference="torch.nn.Conv2d",
        ours=_conv2d_through(byhand.nn.functional.conv2d_im2col),
        theirs=torch.nn.Conv2d,
        inputs=randn(2, 4, 6, 7),
        cases=TEACHING_CASES,
        modes=("train",),
        page=CONVOLUTION,
        bench=Case("(32,64,32,32) 64→64 k3 p1", dict(in_channels=64, out_channels=64,
                                                     kernel_size=3, padding=1),
                   inputs=randn(32, 64, 32, 32)),
    ),
    twin(
        "nn.Conv1d",
        inputs=randn(2, 4, 11),
        cases=(
            Case("4→6, k3", dict(in_channels=4, out_channels=6, kernel_size=3)),
            Case("stride 2, pad 2, dilation 2, groups 2", dict(
                in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2,
                dilation=2, groups=2)),
            Case("padding='same', k4, no bias", dict(in_channels=4, out_channels=3,
                                                     kernel_size=4, padding="same",
                                                     bias=False)),
            Case("padding_mode reflect", dict(in_channels=4, out_channels=3, kernel_size=3,
                                              padding=2, padding_mode="reflect")),
            Case("padding_mode circular", dict(in_channels=4, out_channels=3, kernel_size=3,
                                               padding=1, padding_mode="circular")),
            Case("unbatched (C, L)", dict(in_channels=4, out_channels=6, kernel_size=3),
                 inputs=randn(4, 9)),
        ),
        modes=("train",),
        page=CONVOLUTION,
        bench=Case("(32,64,1024) 64→64 k3 p1", dict(in_channels=64, out_channels=64,
                                                    kernel_size=3, padding=1),
                   inputs=randn(32, 64, 1024)),
    ),
    twin(
        "nn.ConvTranspose2d",
        inputs=randn(2, 4, 5, 6),
        cases=(
            Case("4→6, k3", dict(in_channels=4, out_channels=6, kernel_size=3)),
            Case("stride 2, pad 1, output_padding 1", dict(
                in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1,
                output_padding=1)),
            Case("k(2,3), stride (3,2), groups 2, dilation (1,2)", dict(
                in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(3, 2),
                padding=(1, 0), groups=2, dilation=(1, 2), bias=False)),
            Case("output_size=(12, 13)", dict(in_channels=4, out_channels=3, kernel_size=3,
                                              stride=2, padding=1),
                 inputs=lambda g, dtype: Args(torch.randn(2, 4, 6, 7, generator=g,
                                                          dtype=dtype), output_size=(12, 13))),
            Case("unbatched (C, H, W)", dict(in_channels=4, out_channels=2, kernel_size=3,
                                             stride=2), inputs=randn(4, 3, 4)),
        ),
        modes=("train",),
        page=CONVOLUTION,
        bench=Case("(32,64,16,16) 64→64 k4 s2 p1", dict(in_channels=64, out_channels=64,
                                                        kernel_size=4, stride=2, padding=1),
                   inputs=randn(32, 64, 16, 16)),
    ),
)  # fmt: skip
# --8<-- [end:conv]


# --- oracles for the variants ---------------------------------------------------------------
class DepthwiseSeparableReference(torch.nn.Module):
    """``torch.nn.Conv2d(groups=C)`` then a 1×1 ``torch.nn.Conv2d``, named as ours."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, padding_mode="zeros", depth_multiplier=1):  # fmt: skip
        super().__init__()
        hidden = in_channels * depth_multiplier
        self.depthwise = torch.nn.Conv2d(
            in_channels, hidden, kernel_size, stride, padding, dilation, groups=in_channels,
            bias=bias, padding_mode=padding_mode,
        )  # fmt: skip
        self.pointwise = torch.nn.Conv2d(hidden, out_channels, 1, bias=bias)

    def forward(self, input):
        return self.pointwise(self.depthwise(input))


# --8<-- [start:deform_oracle]
class DeformableReference(torch.nn.Conv2d):
    """Deformable conv from ``grid_sample`` (bilinear, zeros outside, ``align_corners=True``).

    A ``torch.nn.Conv2d`` for its weights (same init, same names); each tap samples the input
    at its shifted grid with ``grid_sample``, and an ``einsum`` does the weighted sum.
    """

    def forward(self, input, offset, mask=None):
        n, channels, height, width = input.shape
        out_channels, group_in, kh, kw = self.weight.shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        taps = kh * kw
        offset_groups = offset.shape[1] // (2 * taps)
        per_group = channels // offset_groups
        rows = torch.arange(out_h, dtype=input.dtype, device=input.device) * sh - ph
        cols = torch.arange(out_w, dtype=input.dtype, device=input.device) * sw - pw
        samples = []
        for g in range(offset_groups):
            part = input[:, g * per_group : (g + 1) * per_group]
            for k in range(taps):
                u, v = divmod(k, kw)
                dy = offset[:, 2 * (g * taps + k)]
                dx = offset[:, 2 * (g * taps + k) + 1]
                y = rows.view(1, -1, 1) + u * dh + dy  # (N, Ho, Wo)
                x = cols.view(1, 1, -1) + v * dw + dx
                grid = torch.stack((2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1), -1)
                value = torch.nn.functional.grid_sample(
                    part, grid, mode="bilinear", padding_mode="zeros", align_corners=True
                )
                if mask is not None:
                    value = value * mask[:, g * taps + k].unsqueeze(1)
                samples.append(value)  # (N, C/G, Ho, Wo)
        # (G, taps, N, C/G, Ho, Wo) -> (N, C, taps, Ho, Wo)
        stacked = torch.stack(samples).view(offset_groups, taps, n, per_group, out_h, out_w)
        stacked = stacked.permute(2, 0, 3, 1, 4, 5).reshape(n, channels, taps, out_h, out_w)
        groups = channels // group_in
        stacked = stacked.view(n, groups, group_in, taps, out_h, out_w)
        weight = self.weight.view(groups, out_channels // groups, group_in, taps)
        out = torch.einsum("gock,ngckhw->ngohw", weight, stacked)
        out = out.reshape(n, out_channels, out_h, out_w)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


# --8<-- [end:deform_oracle]


def deform_inputs(n, channels, height, width, out_h, out_w, taps, offset_groups=1,
                  mask=False, scale=1.3):  # fmt: skip
    """``(input, offset[, mask])``: fractional offsets of size ``scale``, mask in (0, 1)."""

    def make(g, dtype):
        x = torch.randn(n, channels, height, width, generator=g, dtype=dtype)
        shape = (n, 2 * offset_groups * taps, out_h, out_w)
        offset = scale * torch.randn(*shape, generator=g, dtype=dtype)
        if not mask:
            return (x, offset)
        weights = torch.rand(n, offset_groups * taps, out_h, out_w, generator=g, dtype=dtype)
        return (x, offset, weights)

    return make


# --8<-- [start:octave_oracle]
class OctaveReference(torch.nn.Module):
    """Octave conv as the paper draws it: four separate convs, pooling and upsampling."""

    def __init__(self, in_channels, out_channels, kernel_size, alpha_in=0.5, alpha_out=0.5,
                 stride=1, padding=0, dilation=1, bias=False):  # fmt: skip
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels, *k))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(in_channels * k[0] * k[1])
            torch.nn.init.uniform_(self.bias, -bound, bound)
        self.in_low, self.out_low = int(alpha_in * in_channels), int(alpha_out * out_channels)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, input, input_low=None):
        fn = torch.nn.functional
        in_high = self.weight.shape[1] - self.in_low
        out_high = self.weight.shape[0] - self.out_low
        w, b = self.weight, self.bias
        bias_h = None if b is None else b[:out_high]
        bias_l = None if b is None else b[out_high:]

        def conv(x, weight):
            return fn.conv2d(x, weight, None, 1, self.padding, self.dilation)

        if self.stride == 2:
            input = fn.avg_pool2d(input, 2)
            input_low = None if input_low is None else fn.avg_pool2d(input_low, 2)
        high = conv(input, w[:out_high, :in_high])  # high -> high
        if input_low is not None:  # low -> high, upsampled
            low_to_high = conv(input_low, w[:out_high, in_high:])
            high = high + fn.interpolate(low_to_high, scale_factor=2, mode="nearest")
        if bias_h is not None:
            high = high + bias_h.view(1, -1, 1, 1)
        if not self.out_low:
            return high
        low = conv(fn.avg_pool2d(input, 2), w[out_high:, :in_high])  # high -> low, pooled
        if input_low is not None:
            low = low + conv(input_low, w[out_high:, in_high:])  # low -> low
        if bias_l is not None:
            low = low + bias_l.view(1, -1, 1, 1)
        return high, low


# --8<-- [end:octave_oracle]


def octave_inputs(n, high, low, size):
    """``(high (N, high, size, size), low (N, low, size/2, size/2))`` or the high map alone."""

    def make(g, dtype):
        x_high = torch.randn(n, high, size, size, generator=g, dtype=dtype)
        if not low:
            return (x_high,)
        return (x_high, torch.randn(n, low, size // 2, size // 2, generator=g, dtype=dtype))

    return make


VARIANT_ENTRIES = (
    ModulePair(
        name="nn.DepthwiseSeparableConv2d",
        reference="torch.nn.Conv2d(groups=C) + 1×1 torch.nn.Conv2d",
        kind="oracle",
        ours=byhand.nn.DepthwiseSeparableConv2d,
        theirs=DepthwiseSeparableReference,
        inputs=randn(1, 3, 4, 5),
        cases=(
            Case("3→2, k3, pad 1", dict(in_channels=3, out_channels=2, kernel_size=3,
                                         padding=1)),
            Case("stride 2, depth_multiplier 2, no bias", dict(
                in_channels=3, out_channels=2, kernel_size=3, stride=2, depth_multiplier=2,
                bias=False)),
            Case("padding_mode reflect, dilation 2", dict(
                in_channels=3, out_channels=2, kernel_size=3, padding=2, dilation=2,
                padding_mode="reflect")),
        ),
        modes=("train",),
        page=VARIANTS,
        bench=Case("(32,64,32,32) 64→64 k3 p1", dict(in_channels=64, out_channels=64,
                                                     kernel_size=3, padding=1),
                   inputs=randn(32, 64, 32, 32)),
    ),
    ModulePair(
        name="nn.DeformableConv2d",
        reference="deformable conv by torch.nn.functional.grid_sample",
        kind="oracle",
        ours=byhand.nn.DeformableConv2d,
        theirs=DeformableReference,
        inputs=deform_inputs(1, 2, 3, 3, 3, 3, 9),
        cases=(
            Case("2→2, k3, pad 1", dict(in_channels=2, out_channels=2, kernel_size=3,
                                         padding=1)),
            Case("k2, with mask (DCNv2), no bias", dict(in_channels=2, out_channels=3,
                                                        kernel_size=2, bias=False),
                 inputs=deform_inputs(1, 2, 3, 4, 2, 3, 4, mask=True)),
            Case("k(2,3), stride 2, dilation (2,1)", dict(
                in_channels=2, out_channels=2, kernel_size=(2, 3), stride=2, padding=1,
                dilation=(2, 1)), inputs=deform_inputs(1, 2, 5, 4, 3, 2, 6)),
            Case("2 offset groups, groups 2, mask", dict(
                in_channels=4, out_channels=2, kernel_size=2, groups=2),
                 inputs=deform_inputs(1, 4, 4, 4, 3, 3, 4, offset_groups=2, mask=True)),
        ),
        modes=("train",),
        page=VARIANTS,
        bench=Case("(8,32,32,32) 32→32 k3 p1", dict(in_channels=32, out_channels=32,
                                                    kernel_size=3, padding=1),
                   inputs=deform_inputs(8, 32, 32, 32, 32, 32, 9, mask=True)),
    ),
    ModulePair(
        name="nn.OctaveConv2d",
        reference="four torch convs, avg_pool2d and nearest upsampling",
        kind="oracle",
        ours=byhand.nn.OctaveConv2d,
        theirs=OctaveReference,
        inputs=octave_inputs(1, 1, 1, 4),
        cases=(
            Case("2→2, α 0.5, k3, pad 1", dict(in_channels=2, out_channels=2, kernel_size=3,
                                                padding=1)),
            Case("α_in 0 (first layer), bias", dict(in_channels=2, out_channels=2,
                                                    kernel_size=3, padding=1, alpha_in=0.0,
                                                    bias=True),
                 inputs=octave_inputs(1, 2, 0, 4)),
            Case("α_out 0 (last layer)", dict(in_channels=2, out_channels=2, kernel_size=3,
                                              padding=1, alpha_out=0.0)),
            Case("stride 2, α_in 0.25, α_out 0.75", dict(
                in_channels=4, out_channels=4, kernel_size=1, alpha_in=0.25, alpha_out=0.75,
                stride=2), inputs=octave_inputs(1, 3, 1, 8)),
        ),
        modes=("train",),
        page=VARIANTS,
        bench=Case("(32,64,32,32) 64→64 k3 p1", dict(in_channels=64, out_channels=64,
                                                     kernel_size=3, padding=1),
                   inputs=octave_inputs(32, 32, 32, 32)),
    ),
)  # fmt: skip

POOL_BENCH = Case("(32,64,32,32)", inputs=randn(32, 64, 32, 32))

# --8<-- [start:pool]
POOLS = family(
    ("nn.MaxPool2d", dict(cases=(
        Case("k3, stride 2, pad 1", dict(kernel_size=3, stride=2, padding=1)),
        Case("k2 (stride = kernel)", dict(kernel_size=2)),
        Case("ceil_mode, k3 s2", dict(kernel_size=3, stride=2, ceil_mode=True)),
        Case("dilation 2, k(2,3), pad 1", dict(kernel_size=(2, 3), stride=(1, 2), padding=1,
                                              dilation=2)),
        Case("return_indices", dict(kernel_size=3, stride=2, padding=1,
                                    return_indices=True)),
        Case("tied maxima", dict(kernel_size=3, stride=2), inputs=ties(2, 3, 7, 8)),
        Case("unbatched (C, H, W)", dict(kernel_size=2), inputs=randn(3, 5, 6)),
    ), bench=Case("(32,64,32,32) k3 s2 p1", dict(kernel_size=3, stride=2, padding=1),
                  inputs=randn(32, 64, 32, 32)))),
    ("nn.AvgPool2d", dict(cases=(
        Case("k3, stride 2, pad 1", dict(kernel_size=3, stride=2, padding=1)),
        Case("count_include_pad=False", dict(kernel_size=3, stride=2, padding=1,
                                             count_include_pad=False)),
        Case("ceil_mode, k(2,3)", dict(kernel_size=(2, 3), stride=2, padding=1,
                                       ceil_mode=True, count_include_pad=False)),
        Case("divisor_override 5", dict(kernel_size=3, padding=1, divisor_override=5)),
        Case("unbatched (C, H, W)", dict(kernel_size=2), inputs=randn(3, 5, 6)),
    ), bench=Case("(32,64,32,32) k2", dict(kernel_size=2), inputs=randn(32, 64, 32, 32)))),
    ("nn.AdaptiveAvgPool2d", dict(cases=(
        Case("to 3×3", dict(output_size=3)),
        Case("to (4, 5)", dict(output_size=(4, 5))),
        Case("to (5, None)", dict(output_size=(5, None))),
        Case("to 10×11 (larger than the input)", dict(output_size=(10, 11))),
    ), bench=Case("(32,64,32,32) to 7×7", dict(output_size=7), inputs=randn(32, 64, 32, 32)))),
    ("nn.AdaptiveMaxPool2d", dict(cases=(
        Case("to 3×3", dict(output_size=3)),
        Case("to (4, 5), return_indices", dict(output_size=(4, 5), return_indices=True)),
        Case("to (None, 2), tied maxima", dict(output_size=(None, 2)),
             inputs=ties(2, 3, 7, 8)),
    ), bench=Case("(32,64,32,32) to 7×7", dict(output_size=7), inputs=randn(32, 64, 32, 32)))),
    inputs=randn(2, 3, 7, 8),
    modes=("train",),
    page=POOLING,
)  # fmt: skip
# --8<-- [end:pool]

ENTRIES = (*CONV, *VARIANT_ENTRIES, *POOLS)
