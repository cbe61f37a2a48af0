"""Memory format: give an output the layout PyTorch's kernel gives it (``channels_last`` in,
``channels_last`` out)."""

import torch

__all__ = []  # helpers of the functional files, not part of the F namespace


def is_channels_last(input):
    """``True`` for a 4-D tensor laid out ``channels_last`` (and not also plain contiguous),
    PyTorch's ``suggest_memory_format``."""
    return (
        input.dim() == 4
        and not input.is_contiguous()
        and input.is_contiguous(memory_format=torch.channels_last)
    )


def like_input(output, input):
    """``output`` in ``channels_last`` when ``input`` is (no copy otherwise)."""
    if is_channels_last(input) and output.dim() == 4:
        return output.contiguous(memory_format=torch.channels_last)
    return output
