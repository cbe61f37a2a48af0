"""Normalisation layers: ``BatchNorm1d``/``2d``, ``InstanceNorm1d``/``2d``, ``LayerNorm``,
``GroupNorm``, ``RMSNorm``, with PyTorch's arguments, parameters and buffers."""

import numbers
import warnings

import torch

from byhand.nn import functional as F

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "LayerNorm",
    "RMSNorm",
]


# --8<-- [start:norm_base]
class _NormBase(torch.nn.Module):
    """Per-channel ``weight``/``bias`` (``affine``) and the running-statistics buffers
    ``running_mean``, ``running_var``, ``num_batches_tracked`` (``track_running_stats``)."""

    _version = 2  # PyTorch's state_dict version for these layers

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = torch.nn.Parameter(torch.empty(num_features, **factory))
            self.bias = (
                torch.nn.Parameter(torch.empty(num_features, **factory)) if bias else None
            )
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer(
                "num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device)
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            with torch.no_grad():
                self.weight.fill_(1)
                if self.bias is not None:
                    self.bias.zero_()

    def _check_input(self, input):
        expected = self._expected_dims
        wrong_dims = input.dim() not in expected
        if wrong_dims or input.shape[self._channel_axis(input)] != self.num_features:
            layout = " or ".join(self._layouts).replace("C", f"C={self.num_features}")
            # PyTorch: ValueError for the number of dimensions, RuntimeError for the channels
            raise (ValueError if wrong_dims else RuntimeError)(
                f"{type(self).__name__} expects {layout}, got {tuple(input.shape)}"
            )

    def _channel_axis(self, input):
        return 1

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


# --8<-- [end:norm_base]


# --8<-- [start:batch_norm_module]
class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average: the n-th batch weighs 1/n
                momentum = 1.0 / float(self.num_batches_tracked)
        # Batch statistics in training, and in eval when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        # The buffers go in to be updated (training) or to normalise with (eval).
        buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if buffers else None,
            self.running_var if buffers else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm, ``(N, C)`` or ``(N, C, L)``: stats per ``C`` over ``N`` and ``L``."""

    _expected_dims, _layouts = (2, 3), ("(N, C)", "(N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch norm over ``(N, C, H, W)``: statistics per ``C`` over ``N``, ``H`` and ``W``."""

    _expected_dims, _layouts = (4,), ("(N, C, H, W)",)


# --8<-- [end:batch_norm_module]


# --8<-- [start:instance_norm_module]
class _InstanceNorm(_NormBase):
    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def _channel_axis(self, input):
        return input.dim() - self._spatial_dims - 1

    def forward(self, input):
        if input.dim() not in self._expected_dims:
            raise ValueError(
                f"{type(self).__name__} expects {' or '.join(self._layouts)}, "
                f"got {tuple(input.shape)}"
            )
        channels = input.shape[self._channel_axis(input)]
        if channels != self.num_features:
            if self.affine or self.track_running_stats:
                raise RuntimeError(
                    f"{type(self).__name__} expects C={self.num_features} channels at "
                    f"dim {self._channel_axis(input)}, got {tuple(input.shape)}"
                )
            warnings.warn(  # PyTorch's warning: num_features is unused without affine
                f"input's size at dim={self._channel_axis(input)} does not match num_features. "
                "You can silence this warning by not passing in num_features, "
                "which is not used because affine=False",
                stacklevel=2,
            )
        unbatched = input.dim() == self._spatial_dims + 1
        batched = input.unsqueeze(0) if unbatched else input
        output = F.instance_norm(
            batched,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,  # None: the buffers never move
            self.eps,
        )
        return output.squeeze(0) if unbatched else output


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over ``(N, C, L)`` or ``(C, L)``: statistics per sample and channel."""

    _spatial_dims, _expected_dims, _layouts = 1, (2, 3), ("(N, C, L)", "(C, L)")


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over ``(N, C, H, W)`` or ``(C, H, W)``: per sample and channel."""

    _spatial_dims, _expected_dims, _layouts = 2, (3, 4), ("(N, C, H, W)", "(C, H, W)")


# --8<-- [end:instance_norm_module]


def _shape_tuple(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(normalized_shape)


# --8<-- [start:layer_norm_module]
class LayerNorm(torch.nn.Module):
    """Layer norm over the trailing ``normalized_shape`` axes of ``(*, *normalized_shape)``,
    with an element-wise ``weight`` and ``bias`` of shape ``normalized_shape``."""

    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = torch.nn.Parameter(torch.ones(self.normalized_shape, **factory))
            self.bias = (
                torch.nn.Parameter(torch.zeros(self.normalized_shape, **factory))
                if bias
                else None
            )
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


# --8<-- [end:layer_norm_module]


# --8<-- [start:group_norm_module]
class GroupNorm(torch.nn.Module):
    """Group norm over ``(N, C, *)``: ``C`` split into ``num_groups`` groups, each standardised
    per sample; per-channel ``weight`` and ``bias``."""

    def __init__(
        self,
        num_groups,
        num_channels,
        eps=1e-5,
        affine=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(
                f"GroupNorm expects num_channels divisible by num_groups, "
                f"got num_channels={num_channels}, num_groups={num_groups}"
            )
        factory = {"device": device, "dtype": dtype}
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        if affine:
            self.weight = torch.nn.Parameter(torch.ones(num_channels, **factory))
            self.bias = (
                torch.nn.Parameter(torch.zeros(num_channels, **factory)) if bias else None
            )
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            raise RuntimeError(
                f"GroupNorm expects (N, C, *) with C={self.num_channels}, "
                f"got {tuple(input.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


# --8<-- [end:group_norm_module]


# --8<-- [start:rms_norm_module]
class RMSNorm(torch.nn.Module):
    """RMS norm over the trailing ``normalized_shape`` axes: ``x / rms(x) · weight``, no bias.

    ``eps=None`` uses the machine epsilon of the input's dtype, as PyTorch does.

    Shapes: ``x`` ``(*, *normalized_shape)``; the output has the same shape.
    """

    def __init__(
        self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None
    ):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = torch.nn.Parameter(
                torch.ones(self.normalized_shape, device=device, dtype=dtype)
            )
        else:
            self.register_parameter("weight", None)

    def forward(self, x):  # PyTorch names this argument x, not input
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


# --8<-- [end:rms_norm_module]
