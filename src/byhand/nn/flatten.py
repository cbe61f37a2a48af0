"""``Flatten`` and ``Unflatten``: reshapes that merge or split axes (a view when possible)."""

import math

import torch

__all__ = ["Flatten", "Unflatten"]


# --8<-- [start:flatten]
class Flatten(torch.nn.Module):
    """Merge axes ``start_dim..end_dim`` into one: ``(N, C, H, W) → (N, C·H·W)`` by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        ndim = max(input.dim(), 1)  # a 0-d tensor flattens like a 1-element vector
        start, end = self.start_dim, self.end_dim
        if not (-ndim <= start < ndim and -ndim <= end < ndim):
            raise IndexError(
                f"Flatten(start_dim={start}, end_dim={end}) needs dims in [-{ndim}, {ndim}) "
                f"for an input of shape {tuple(input.shape)}"
            )
        start, end = start % ndim, end % ndim
        if start > end:
            raise RuntimeError(f"Flatten expects start_dim <= end_dim, got {start} > {end}")
        shape = tuple(input.shape) or (1,)
        merged = math.prod(shape[start : end + 1])
        return input.reshape(*shape[:start], merged, *shape[end + 1 :])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# --8<-- [end:flatten]


# --8<-- [start:unflatten]
class Unflatten(torch.nn.Module):
    """Split axis ``dim`` into ``unflattened_size``: ``(N, 12) → (N, 3, 4)``; one ``-1``
    is inferred."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise NotImplementedError("Unflatten: named dimensions are not supported by byhand")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(size, int) for size in unflattened_size
        ):
            raise TypeError(
                f"Unflatten expects unflattened_size as ints, got {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        ndim = input.dim()
        if not -ndim <= self.dim < ndim:
            raise IndexError(
                f"Unflatten: dim {self.dim} out of range for shape {tuple(input.shape)}"
            )
        dim = self.dim % ndim
        sizes = list(self.unflattened_size)
        known = math.prod(size for size in sizes if size != -1)
        length = input.shape[dim]
        if sizes.count(-1) > 1 or (
            -1 not in sizes
            and known != length
            or -1 in sizes
            and (known == 0 or length % known)
        ):
            raise RuntimeError(
                f"Unflatten: sizes {tuple(sizes)} don't multiply up to the size of dim {dim} "
                f"({length}) of the input of shape {tuple(input.shape)}"
            )
        return input.reshape(*input.shape[:dim], *sizes, *input.shape[dim + 1 :])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# --8<-- [end:unflatten]
