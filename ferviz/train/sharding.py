"""Large inference jobs split over torchrun ranks: each rank takes a contiguous shard, rank 0 gathers.

The engine is torch.distributed (the same as training: gloo on CPU, nccl on GPU), launched with
``torchrun --nproc_per_node N -m ferviz evaluate|predict ...``. Items are cut into blocks of
``block`` items (the evaluation batch size) and the blocks are dealt out contiguously, so every
model batch holds exactly the items it holds in a single-process run: the gathered result is
identical to the single-process one, bit for bit, in the same order.
"""

from __future__ import annotations

import math
from typing import Any

import torch.distributed as dist

from ferviz.train.engine import dist_info


def shard_bounds(n: int, rank: int, world: int, block: int = 1) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``n`` items, split on ``block`` boundaries.

    Blocks are dealt as evenly as possible, the first ranks taking one more when they do not divide.
    """
    if world < 1 or not 0 <= rank < world or block < 1:
        raise ValueError(f"need 0 <= rank < world and block >= 1, "
                         f"got rank {rank}, world {world}, block {block}")
    blocks = math.ceil(n / block)
    per, extra = divmod(blocks, world)
    first = rank * per + min(rank, extra)
    count = per + (1 if rank < extra else 0)
    return min(first * block, n), min((first + count) * block, n)


def gather_to_rank0(part: Any) -> list[Any] | None:
    """Every rank's ``part`` in rank order on rank 0 (None on the others); ``[part]`` without torchrun."""
    rank, world = dist_info()
    if world == 1:
        return [part]
    parts: list[Any] | None = [None] * world if rank == 0 else None
    dist.gather_object(part, parts, dst=0)
    return parts
