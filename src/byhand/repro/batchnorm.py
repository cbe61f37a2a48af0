"""Batch norm as several devices compute it without ``SyncBatchNorm``: each on its own shard."""

import torch

from byhand.nn.functional import batch_norm

__all__ = ["per_device_batch_norm"]


# --8<-- [start:per_device]
def per_device_batch_norm(input, devices):
    """Training-mode batch norm of ``(N, C, *)`` split into ``devices`` equal shards, each
    normalised with its own mean and variance (as DataParallel / DDP do without SyncBatchNorm).
    ``devices=1`` is ordinary batch norm over the whole batch."""
    if devices < 1 or input.shape[0] % devices:
        raise ValueError(
            f"per_device_batch_norm expects a batch divisible by devices, "
            f"got N={input.shape[0]} and devices={devices}"
        )
    shards = input.chunk(devices)
    return torch.cat([batch_norm(shard, None, None, training=True) for shard in shards])


# --8<-- [end:per_device]
