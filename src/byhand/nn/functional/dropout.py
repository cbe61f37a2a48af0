"""Dropout and its relatives: elements, whole channels, weights, and square blocks.

Every one is *inverted*: what survives is scaled up in training so that the expectation is
unchanged and evaluation is the identity. ``p`` is the probability of **dropping**, as in
PyTorch. The masks are drawn as PyTorch draws them (``bernoulli_(1 − p)`` on a tensor of the
mask's shape), so with the same seed they are the same masks on the CPU.
"""

import warnings

import torch

__all__ = ["drop_block2d", "drop_connect", "dropout", "dropout1d", "dropout2d"]


def _check_probability(p, name):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} expects p in [0, 1] (the probability of dropping), got {p}")


# --8<-- [start:dropout]
def _inverted_dropout(input, p, training, inplace, mask_shape):
    """``input · m / (1 − p)`` with ``m ~ Bernoulli(1 − p)`` of ``mask_shape`` (broadcast)."""
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        zero = torch.zeros((), dtype=input.dtype, device=input.device)
        return input.mul_(zero) if inplace else input * zero
    if mask_shape is None:  # one draw per element, in the input's own memory layout
        mask = torch.empty_like(input)
    else:
        mask = input.new_empty(mask_shape)
    mask.bernoulli_(1 - p).div_(1 - p)  # keep with probability 1 − p, then scale by 1/(1 − p)
    return input.mul_(mask) if inplace else input * mask


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 − p)``.

    Shapes: ``input`` ``(*)``, any shape; the output has the same shape.
    """
    _check_probability(p, "dropout")
    return _inverted_dropout(input, p, training, inplace, None)


# --8<-- [end:dropout]


# --8<-- [start:feature_dropout]
def _feature_dropout(input, p, training, inplace):
    """Zero whole channels of ``(N, C, *)``: one draw per ``(n, c)``."""
    shape = (*input.shape[:2], *([1] * (input.dim() - 2)))
    return _inverted_dropout(input, p, training, inplace, shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` with probability ``p``."""
    _check_probability(p, "dropout1d")
    if input.dim() not in (2, 3):
        raise ValueError(
            f"dropout1d expects (N, C, L) or (C, L), got a {input.dim()}-D input "
            f"of shape {tuple(input.shape)}"
        )
    if input.dim() == 2:  # unbatched (C, L): each channel is one draw
        batched = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
        output = _feature_dropout(batched, p, training, inplace)
        return output.squeeze_(0) if inplace else output.squeeze(0)
    return _feature_dropout(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``.

    As in PyTorch, a 3-D input is read as ``(N, C, L)`` (with a warning), not as ``(C, H, W)``.
    """
    _check_probability(p, "dropout2d")
    if input.dim() not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
            "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace)


# --8<-- [end:feature_dropout]


# --8<-- [start:drop_connect]
def drop_connect(weight, p=0.5, training=True):
    """Zero each **weight** with probability ``p`` and scale the rest by ``1 / (1 − p)``.

    One mask per call, shared by the whole batch; the identity when not training.

    Shapes: ``weight`` ``(*)``, any shape; the output has the same shape.
    """
    _check_probability(p, "drop_connect")
    return _inverted_dropout(weight, p, training, False, None)


# --8<-- [end:drop_connect]


# --8<-- [start:drop_block2d]
def drop_block2d(input, p, block_size, inplace=False, eps=1e-6, training=True):
    """DropBlock on ``(N, C, H, W)``: drop ``block_size × block_size`` squares of each channel.

    Block corners are drawn with probability ``γ = p·H·W / (b² (H − b + 1)(W − b + 1))`` on the
    ``(H − b + 1) × (W − b + 1)`` positions where a whole block fits, so that about a fraction
    ``p`` of the map is dropped; what survives is scaled by ``numel / (ε + kept)``, one factor
    for the whole batch (``torchvision.ops.drop_block2d``'s semantics).
    """
    _check_probability(p, "drop_block2d")
    if input.dim() != 4:
        raise ValueError(f"drop_block2d expects (N, C, H, W), got shape {tuple(input.shape)}")
    if not training or p == 0:
        return input
    n, c, h, w = input.shape
    if not 1 <= block_size <= min(h, w):
        raise ValueError(
            f"drop_block2d expects 1 <= block_size <= min(H, W) = {min(h, w)}, got {block_size}"
        )
    rows, cols = h - block_size + 1, w - block_size + 1
    gamma = p * h * w / (block_size**2 * rows * cols)
    corners = input.new_empty(n, c, rows, cols).bernoulli_(min(gamma, 1.0))
    dropped = torch.zeros_like(input)
    for i in range(block_size):  # a corner at (r, s) drops rows r..r+b−1, columns s..s+b−1
        for j in range(block_size):
            dropped[:, :, i : i + rows, j : j + cols] += corners
    keep = (dropped == 0).to(input.dtype)
    scale = keep.numel() / (eps + keep.sum())
    return input.mul_(keep).mul_(scale) if inplace else input * keep * scale


# --8<-- [end:drop_block2d]
