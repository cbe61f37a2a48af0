"""``Embedding``: a learned table of vectors, one row per index."""

import torch

from byhand.nn import functional as F

__all__ = ["Embedding"]


# --8<-- [start:embedding_module]
class Embedding(torch.nn.Module):
    """Rows of ``weight`` ``(num_embeddings, embedding_dim)`` at the integer indices of
    ``input`` ``(*)``; returns ``(*, embedding_dim)``. Initialised from ``N(0, 1)``, with the
    ``padding_idx`` row (negative counts from the end) set to zero and kept out of the gradient.
    """

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding expects padding_idx in [-{num_embeddings}, {num_embeddings}), "
                    f"got {padding_idx}"
                )
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            weight = torch.empty(num_embeddings, embedding_dim, device=device, dtype=dtype)
            self.weight = torch.nn.Parameter(weight, requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding expects _weight of shape ({num_embeddings}, {embedding_dim}), "
                    f"got {tuple(_weight.shape)}"
                )
            self.weight = torch.nn.Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        with torch.no_grad():
            self.weight.normal_()
            if self.padding_idx is not None:
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input):
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings,
        freeze=True,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
    ):
        """An ``Embedding`` whose table is ``embeddings`` ``(num, dim)`` itself (not a copy);
        frozen unless ``freeze=False``."""
        if embeddings.dim() != 2:
            raise ValueError(
                f"Embedding.from_pretrained expects a 2-D (num_embeddings, embedding_dim) "
                f"tensor, got shape {tuple(embeddings.shape)}"
            )
        rows, cols = embeddings.shape
        return cls(
            rows,
            cols,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=embeddings,
            _freeze=freeze,
        )

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        return text


# --8<-- [end:embedding_module]
