"""Training on several processes through torchrun and DistributedDataParallel.

    torchrun --nproc_per_node=4 -m core.train --data cifar10 --preset fast-gpu

torchrun starts one process per GPU (or per CPU share with gloo) and sets RANK / WORLD_SIZE / LOCAL_RANK.
Every rank holds the whole dataset; each step's global batch is split by rank, strided, which is exactly
what DistributedSampler hands each rank from the same per-epoch permutation. DDP averages gradients,
so a run matches a single process with the same global batch size. Only rank 0 writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .control import Control
from .devices import DDP_DEVICE, DeviceError, resolve_device


@dataclass(frozen=True)
class Rank:
    """This process's place in the job: rank 0 of 1 without torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


SINGLE_PROCESS = Rank()


def from_env() -> Rank:
    env = os.environ
    return Rank(
        int(env.get("RANK", 0)),
        int(env.get("WORLD_SIZE", 1)),
        int(env.get("LOCAL_RANK", 0)),
        int(env.get("LOCAL_WORLD_SIZE", env.get("WORLD_SIZE", 1))),
    )


def init(rank: Rank, requested: str) -> torch.device:
    """Join the process group: nccl with one GPU per rank on CUDA, gloo on CPU."""
    requested = (requested or "auto").strip().lower()
    use_cuda = requested.startswith("cuda") or (
        torch.cuda.is_available() and requested in ("auto", DDP_DEVICE)
    )
    if use_cuda:
        count = torch.cuda.device_count()
        if rank.local_world > count:
            raise DeviceError(
                f"torchrun started {rank.local_world} processes on this machine but it has "
                f"{count} GPU(s); use --nproc_per_node={count} or fewer."
            )
        device = torch.device(f"cuda:{rank.local_rank}")
        torch.cuda.set_device(device)
    elif requested in ("cpu", "auto", DDP_DEVICE):
        device = resolve_device("cpu")
    else:
        raise DeviceError(f"Distributed training runs on CUDA (nccl) or the CPU (gloo), not '{requested}'.")
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return device


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def broadcast(obj, rank: Rank):
    """Rank 0's `obj` on every rank (the run id, the config, a checkpoint)."""
    if not rank.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: list[float], device: torch.device, rank: Rank) -> list[float]:
    """Element-wise sum over ranks of a few numbers (losses, counts, control flags)."""
    if not rank.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_gather(obj, rank: Rank) -> list:
    """Every rank's `obj`, in rank order, on every rank (each rank's share of the test results)."""
    if not rank.distributed:
        return [obj]
    parts: list = [None] * rank.world
    dist.all_gather_object(parts, obj)
    return parts


def agree(control: Control, agreed: Control, device: torch.device, rank: Rank) -> None:
    """Every rank takes on rank 0's stop / pause / resume: `control` reads rank 0's commands, `agreed` is
    what each rank acts on. A collective: all ranks call it at the same step."""
    stop, pause = all_sum(
        [float(rank.main and control.stopping), float(rank.main and control.paused)], device, rank
    )
    agreed.apply("stop" if stop else "pause" if pause else "resume")
