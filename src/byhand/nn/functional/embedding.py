"""Embedding: a table lookup, whose backward adds each output gradient into its row."""

import torch
from torch.autograd.function import once_differentiable

__all__ = ["EmbeddingLookup", "embedding", "embedding_renorm_"]


# --8<-- [start:embedding_lookup]
class EmbeddingLookup(torch.autograd.Function):
    """``weight[input]`` for integer ``input`` of any shape; returns ``(*input.shape, D)``.

    Backward: row ``i`` of the weight's gradient is the sum of the output gradients at every
    position where ``input == i`` — the transpose of a one-hot matmul — except the
    ``padding_idx`` row, which gets none; with ``scale_grad_by_freq`` each sum is divided by how
    often ``i`` occurs in ``input``. With ``sparse`` the gradient is a sparse COO tensor that
    lists each used row's gradient (the sum is left to the optimizer), as PyTorch's.

    Shapes: ``weight`` ``(V, E)``, ``input`` ``(*)`` integers; returns ``(*, E)``.
    """

    @staticmethod
    def forward(ctx, weight, input, padding_idx, scale_grad_by_freq, sparse=False):
        ctx.save_for_backward(input)
        ctx.num_embeddings = weight.shape[0]
        ctx.padding_idx, ctx.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        ctx.sparse = sparse
        return weight.index_select(0, input.reshape(-1)).reshape(*input.shape, weight.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        index = input.reshape(-1)
        grad_rows = grad_output.reshape(index.numel(), grad_output.shape[-1])
        if ctx.scale_grad_by_freq:
            counts = torch.bincount(index, minlength=ctx.num_embeddings)
            grad_rows = grad_rows / counts[index].unsqueeze(1).to(grad_rows.dtype)
        size = (ctx.num_embeddings, grad_output.shape[-1])
        if ctx.sparse:
            if ctx.padding_idx is not None:
                kept = index != ctx.padding_idx
                index, grad_rows = index[kept], grad_rows[kept]
            return (
                torch.sparse_coo_tensor(index.unsqueeze(0), grad_rows, size),
                None,
                None,
                None,
                None,
            )
        if ctx.padding_idx is not None:
            grad_rows = grad_rows.masked_fill((index == ctx.padding_idx).unsqueeze(1), 0)
        grad_weight = grad_output.new_zeros(ctx.num_embeddings, grad_output.shape[-1])
        grad_weight.index_add_(0, index, grad_rows)
        return grad_weight, None, None, None, None


# --8<-- [end:embedding_lookup]


# --8<-- [start:embedding_renorm]
def embedding_renorm_(weight, input, max_norm, norm_type=2.0):
    """Rescale, in place, every row of ``weight`` that ``input`` uses and whose ``norm_type``
    norm exceeds ``max_norm``, to norm ``max_norm`` (``row · max_norm / (norm + 1e-7)``).

    Shapes: ``weight`` ``(V, E)``, ``input`` ``(*)`` integers; returns ``weight``.
    """
    with torch.no_grad():
        rows = torch.unique(input.reshape(-1))
        norms = torch.linalg.vector_norm(weight[rows], ord=norm_type, dim=1)
        too_long = norms > max_norm
        scale = max_norm / (norms[too_long] + 1e-7)
        weight[rows[too_long]] *= scale.unsqueeze(1).to(weight.dtype)
    return weight


# --8<-- [end:embedding_renorm]


# --8<-- [start:embedding]
def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Look up rows of ``weight`` ``(num_embeddings, D)`` at integer ``input`` ``(*)``.

    ``padding_idx`` (negative counts from the end) receives no gradient; ``max_norm``
    renormalises the used rows **in place** before the lookup, as PyTorch does.
    """
    if input.dtype not in (torch.int32, torch.int64):
        raise RuntimeError(
            f"embedding expects integer indices (int64 or int32), got {input.dtype}"
        )
    num_embeddings = weight.shape[0]
    # reading values breaks a compiled graph: compiled, the lookup's own bounds check stays
    if input.numel() > 0 and not torch.compiler.is_compiling():
        low, high = int(input.min()), int(input.max())
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(
                f"embedding: index {bad} is out of range for num_embeddings={num_embeddings} "
                f"(valid indices are 0..{num_embeddings - 1})"
            )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num_embeddings
    if max_norm is not None:
        embedding_renorm_(weight, input, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, input.long(), padding_idx, scale_grad_by_freq, sparse)


# --8<-- [end:embedding]
