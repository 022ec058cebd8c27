"""Which devices this machine can train on, and checking a device the user asked for."""

from __future__ import annotations

import os
import platform
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from .messages import N_, MessageError, Phrase

DDP_DEVICE = "ddp"  # TrainConfig.device for "every GPU of this machine, one process each" (torchrun)
# below this batch size, PyTorch's plain convolution beats oneDNN's (whose per-call setup dominates):
# the tutorial's batch 4 on 2 threads: 3,600 img/s without oneDNN, 2,800 with it. In float32 only: under bf16
# autocast PyTorch's own convolution is the slow one (airbench at batch 16, 1 thread: 2.2 s a step, 0.1 s
# with oneDNN)
SMALL_BATCH = 32


class DeviceError(MessageError):
    """A requested device that does not exist here; the message lists the ones that do."""


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # what torch.device() takes: "cpu", "cuda:0", "mps"
    label: Phrase  # what a UI shows (English; the app translates it with error_text)
    total_memory: int | None = None  # bytes, CUDA only
    free_memory: int | None = None  # bytes, CUDA only


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


def list_devices() -> list[DeviceInfo]:
    """Every device torch can use here, CPU first. Nothing unusable is listed."""
    devices = [DeviceInfo("cpu", Phrase(N_("cpu ({threads} threads)"), threads=torch.get_num_threads()))]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(i)
            try:
                free, total = torch.cuda.mem_get_info(i)
            except RuntimeError:  # a device that cannot even report memory is not usable
                continue
            label = Phrase(
                N_("{device} · {name} · {free} GiB free of {total} GiB"),
                device=f"cuda:{i}",
                name=name,
                free=_gib(free),
                total=_gib(total),
            )
            devices.append(DeviceInfo(f"cuda:{i}", label, total, free))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(DeviceInfo("mps", Phrase(N_("mps · Apple GPU"))))
    return devices


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine(device: torch.device) -> str:
    """What a run trained on, as a leaderboard names it: the GPU's name, or the CPU's model and threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        name = found[0] if found else name
    return f"{name} · {torch.get_num_threads()} threads"


def default_device() -> str:
    """The seed's choice, `cuda:0 if torch.cuda.is_available() else cpu`, extended to Apple GPUs."""
    names = [d.name for d in list_devices()]
    for preferred in ("cuda:0", "mps"):
        if preferred in names:
            return preferred
    return "cpu"


def resolve_device(requested: str | None) -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:1", "mps" into a usable torch.device, or raise DeviceError."""
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        return torch.device(default_device())
    if requested == "cuda":
        requested = "cuda:0"
    names = [d.name for d in list_devices()]
    if requested not in names:
        raise DeviceError(
            N_("Device '{device}' is not available here. Available: {devices}."),
            device=requested,
            devices=", ".join(names),
        )
    return torch.device(requested)


def speed_switches(device: torch.device, batch_size: int, amp: str) -> None:
    """The engine's process-wide switches for a run's step (the trainer and bench/kernels.py share them)."""
    # oneDNN only where it wins: small float32 batches lose (see SMALL_BATCH)
    torch.backends.mkldnn.enabled = not (device.type == "cpu" and batch_size < SMALL_BATCH and amp != "bf16")
    # Tiny values early in training are denormal floats, which x86 handles in slow microcode: flushing them
    # to zero took the tutorial's loop from 2,000-2,800 img/s to 3,600. The flag is per thread and OpenMP
    # threads copy it when created, so the CLI sets it first thing; here it covers at least this thread.
    torch.set_flush_denormal(device.type == "cpu")


def autocast(device: torch.device, amp: str):
    """Mixed precision for `amp` ("off", "bf16", "fp16") where it pays: bf16/fp16 on CUDA, bf16 on CPU
    (oneDNN's bf16 convolutions run about 1.8× faster than fp32 on AVX-512-BF16 CPUs). Else a no-op."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    if (
        dtype is None
        or device.type not in ("cuda", "cpu")
        or (device.type == "cpu" and dtype != torch.bfloat16)
    ):
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)
