"""Several processes, one model: PyTorch's own engine, started by ``torchrun``.

``torchrun --nproc_per_node=K`` starts K copies of the program with ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE`` and the rendezvous address in their environment. Each copy joins the process
group (nccl on CUDA, gloo on the CPU), takes its share of every batch through a
``DistributedSampler``, and ``DistributedDataParallel`` averages the gradients across copies
during ``backward``. Only rank 0 logs and writes files.
"""

import dataclasses
import os

import torch
import torch.distributed as dist

from byhand.nn import normalization as byhand_normalization
from byhand.train.errors import UsageError

__all__ = [
    "DistributedRun",
    "setup",
    "teardown",
    "wrap",
    "convert_sync_batchnorm",
    "AllReduceBatchNorm",
    "all_reduce_sum",
    "sum_across",
]

# The batch norms --sync-bn converts: PyTorch's and byhand's own (same arguments, same buffers).
BATCH_NORMS = (torch.nn.modules.batchnorm._BatchNorm, byhand_normalization._BatchNorm)


@dataclasses.dataclass
class DistributedRun:
    """This process's rank, how many processes there are, and whether it made the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self):
        return self.world_size > 1

    @property
    def is_main(self):
        return self.rank == 0


def setup(device):
    """Join the process group torchrun describes in the environment (nothing without it)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedRun()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistributedRun(rank, world_size, local_rank, owns)


def teardown(run):
    """Leave the process group if ``setup`` joined it."""
    if run.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model, device, run):
    """``DistributedDataParallel`` around ``model`` when there are several processes."""
    if not run.enabled:
        return model
    device_ids = (
        [device.index if device.index is not None else 0] if device.type == "cuda" else None
    )
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def sum_across(values, device, run):
    """Sum a list of numbers over every process (the same list back without torchrun)."""
    if not run.enabled:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def convert_sync_batchnorm(model, device):
    """Batch statistics over the whole global batch instead of each process's share.

    Every batch norm, ``torch.nn``'s or byhand's, becomes ``torch.nn.SyncBatchNorm`` on CUDA.
    PyTorch's SyncBatchNorm refuses CPU tensors, so on the CPU (gloo) it becomes an
    :class:`AllReduceBatchNorm` instead: the same parameters and buffers, its statistics summed
    across processes with :func:`all_reduce_sum` (differentiable). The new layer keeps the old
    one's ``Parameter`` objects, so an optimizer built on the model before still holds them.
    """
    synced = torch.nn.SyncBatchNorm if device.type == "cuda" else AllReduceBatchNorm
    for name, child in model.named_children():
        if isinstance(child, BATCH_NORMS) and not isinstance(child, synced):
            replacement = synced(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            replacement.load_state_dict(child.state_dict())
            if child.affine:  # the same Parameter objects: an optimizer's references stay valid
                replacement.weight, replacement.bias = child.weight, child.bias
            where = next(iter(child.state_dict().values()), torch.empty(0, device=device))
            setattr(model, name, replacement.to(where.device))
        else:
            convert_sync_batchnorm(child, device)
    return model


class _AllReduceSum(torch.autograd.Function):
    """``y = Σ_r x_r`` on every process; every process's loss depends on ``y``, so the
    gradient of ``x_r`` is ``Σ_r ∂L_r/∂y``: the backward is an all-reduce sum too."""

    @staticmethod
    def forward(ctx, tensor):
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce_sum(tensor):
    """The sum of ``tensor`` over every process, differentiable (``torch.distributed``'s own
    ``torch.distributed.nn.functional.all_reduce`` is deprecated and warns each call)."""
    return _AllReduceSum.apply(tensor)


# --8<-- [start:all_reduce_batchnorm]
class AllReduceBatchNorm(torch.nn.BatchNorm2d):
    """Batch norm over ``(N, C, *)`` whose training statistics span every process.

    ``mean_c = Σ x / M`` and ``var_c = Σ (x - mean_c)² / M`` with the sums taken over all
    processes (``M`` values per channel in the global batch); the running variance takes the
    unbiased ``var_c · M / (M - 1)``, as ``torch.nn.BatchNorm`` does.
    """

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise UsageError(f"AllReduceBatchNorm expects (N, C, *), got {tuple(input.shape)}")

    def forward(self, input):
        self._check_input_dim(input)
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(input)
        axes = [0, *range(2, input.dim())]
        count = torch.tensor([input.numel() / input.shape[1]], device=input.device)
        count = all_reduce_sum(count)
        mean = all_reduce_sum(input.sum(axes)) / count
        shape = [1, -1] + [1] * (input.dim() - 2)
        centred = input - mean.reshape(shape)
        var = all_reduce_sum(centred.square().sum(axes)) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count.item())
        output = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            output = output * self.weight.reshape(shape) + self.bias.reshape(shape)
        return output

    @torch.no_grad()
    def _update_running_stats(self, mean, var, count):
        self.num_batches_tracked += 1
        momentum = self.momentum if self.momentum is not None else 1 / self.num_batches_tracked
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(var * count / max(count - 1, 1), momentum)


# --8<-- [end:all_reduce_batchnorm]
