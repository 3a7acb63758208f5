"""Process-group setup under torchrun and per-process shards of each epoch's sample indices.

`torchrun --nproc_per_node=N -m stt_tracker_ros.cli train CONFIG` sets RANK, WORLD_SIZE and
LOCAL_RANK; without them training runs as a single process.
"""
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from stt_tracker_ros.tracking.factory import resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, logs and progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1


def setup_distributed(device: str) -> DistributedContext:
    """Join the process group torchrun describes, or run alone.

    Args:
        device: 'auto', 'cpu', 'cuda'...; under torchrun a CUDA run uses cuda:LOCAL_RANK.
    """
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    resolved = resolve_device(device)
    if world_size == 1:
        return DistributedContext(0, 1, resolved)
    if resolved.type == 'cuda':
        resolved = torch.device('cuda', int(os.environ.get('LOCAL_RANK', '0')))
        torch.cuda.set_device(resolved)
    dist.init_process_group('nccl' if resolved.type == 'cuda' else 'gloo')
    context = DistributedContext(dist.get_rank(), dist.get_world_size(), resolved)
    log.info('process %d of %d on %s', context.rank, context.world_size, resolved)
    return context


def teardown_distributed(context: DistributedContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum `tensor` over all processes in place; returns it."""
    if context.distributed:
        dist.all_reduce(tensor)
    return tensor


class ShardSampler(Sampler[int]):
    """This process's share of a block of sample indices, like DistributedSampler.

    With `per_epoch` the block moves with the epoch (fresh samples every epoch); without it the
    same indices come every time (a fixed validation set). The last `count % world_size`
    indices are dropped so that every process runs the same number of steps.
    """

    def __init__(self, count: int, rank: int = 0, world_size: int = 1, per_epoch: bool = True):
        """Args: count: indices per epoch over all processes; rank, world_size: this shard."""
        self.count = count
        self.rank = rank
        self.world_size = world_size
        self.per_epoch = per_epoch
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        """Select the block of epoch `epoch` (1-based)."""
        self.epoch = epoch

    def __iter__(self):
        """Indices start + rank, start + rank + world_size, ... of this epoch's block."""
        start = (self.epoch - 1) * self.count if self.per_epoch else 0
        return iter(range(start + self.rank, start + len(self) * self.world_size,
                          self.world_size))

    def __len__(self) -> int:
        """How many indices each process gets."""
        return self.count // self.world_size
