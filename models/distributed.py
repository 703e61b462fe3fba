"""Processes and devices: torchrun's process group, the device a rank trains on, collectives."""

from __future__ import annotations

import contextlib
import gc
import io
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from graves_data.errors import UsageError

# ---------------------------------------------------------------------------------------------
# processes and devices


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def distributed_from_env() -> Distributed:
    """Rank and world size as torchrun sets them (a single process without torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return Distributed(rank, world, int(os.environ.get("LOCAL_RANK", str(rank))))


def init_distributed(device: str) -> tuple[Distributed, bool]:
    """Join the process group torchrun set up; (info, whether this call created the group)."""
    info = distributed_from_env()
    if info.world == 1 or dist.is_initialized():
        return info, False
    if device == "cuda":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return info, True


def close_distributed() -> None:
    """Leave the process group together (gloo aborts a process that leaves alone).

    The DistributedDataParallel wrapper and its reducer hold the gloo group; left to the
    interpreter's shutdown they are destroyed after Python is gone, and a busy machine then sees
    "terminate called without an active exception" (SIGABRT) in a process that had finished.
    Collecting them first makes the group's last owner this call.
    """
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


def resolve_device(name: str, info: Distributed) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here")
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA (no loss scaling needed, so derivative clipping is exact)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def all_reduce_sums(sums: dict[str, torch.Tensor], info: Distributed) -> dict[str, float]:
    if info.world == 1 or not sums:
        return {k: float(v.item()) for k, v in sums.items()}
    names = sorted(sums)
    packed = torch.stack([sums[k].double() for k in names])
    if packed.device.type != "cpu" and dist.get_backend() == "gloo":
        packed = packed.cpu()
    dist.all_reduce(packed)
    return {k: float(v) for k, v in zip(names, packed.tolist(), strict=True)}


def gather_states(mine: Any, world: int) -> list[Any]:
    """Every process's `mine`, in rank order (sent as torch.save bytes: tensors inside plain
    pickles do not survive all_gather_object)."""
    buffer = io.BytesIO()
    torch.save(mine, buffer)
    blobs: list[Any] = [None] * world
    dist.all_gather_object(blobs, buffer.getvalue())
    return [torch.load(io.BytesIO(blob), weights_only=True) for blob in blobs]
