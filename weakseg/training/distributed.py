"""Multi-process training under ``torchrun``: the same command on 1 CPU, N GPUs or N nodes.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; we then join a process group (NCCL on
CUDA, gloo on CPU), wrap the network in DistributedDataParallel, and let only rank 0
write files.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> DistInfo:
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


def setup(device: torch.device) -> DistInfo:
    """Join the process group torchrun prepared (no-op for a single process)."""
    info = from_environment()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def device_for(info: DistInfo, device: torch.device) -> torch.device:
    """One GPU per local rank; CPU stays CPU."""
    if device.type == "cuda" and info.enabled:
        return torch.device("cuda", info.local_rank)
    return device


def wrap(network: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    if not info.enabled:
        return network
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(network, device_ids=ids, broadcast_buffers=True)


def unwrap(network: nn.Module) -> nn.Module:
    return network.module if isinstance(network, nn.parallel.DistributedDataParallel) else network


def sync_buffers(network: nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's BN statistics, so saved models do not depend on the rank."""
    if not info.enabled:
        return
    for buffer in unwrap(network).buffers():
        dist.broadcast(buffer.data, src=0)


def state_digest(network: nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in state-dict order: equal digests mean equal models."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in unwrap(network).state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def rank_digests(network: nn.Module, info: DistInfo) -> list[str]:
    """Every rank's ``state_digest``, gathered (one entry for a single process)."""
    mine = state_digest(network)
    if not info.enabled:
        return [mine]
    gathered: list = [None] * info.world_size
    dist.all_gather_object(gathered, mine)
    return [str(g) for g in gathered]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


_SESSIONS = 0
"""How many ``session`` blocks are open: inside one, a Trainer run keeps the process group for the next."""


@contextmanager
def session(device: torch.device):
    """One process group for several training runs in a row (a staged method's stages): joining a new group
    in the same processes after leaving one hangs or fails with gloo, so the group is left once, at the end."""
    global _SESSIONS
    info = setup(device)
    _SESSIONS += 1
    failed = True
    try:
        yield info
        failed = False
    finally:
        _SESSIONS -= 1
        cleanup(info, failed)


def cleanup(info: DistInfo, failed: bool = False) -> None:
    """Leave the process group together: a rank that tears gloo down while its peer still talks to it
    aborts in C++ ("terminate called without an active exception"), seen once in three runs here.
    Inside a ``session`` the ranks only wait for each other; the session leaves the group."""
    if info.enabled and dist.is_initialized() and _SESSIONS > 0:
        if not failed:
            barrier(info)
        return
    if info.enabled and dist.is_initialized():
        if not failed:
            try:
                dist.barrier()
            except RuntimeError:
                pass
        dist.destroy_process_group()
