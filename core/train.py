"""The trainer: a TrainConfig in, a run folder out, events to a callback while it runs.

    python -m core.train --data synthetic --preset tutorial --epochs 1

Data lives on the training device as uint8 tensors; each step indexes a batch, normalises and augments
it there, and takes one optimizer step. Pause/resume/stop are cooperative (checked between steps).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import (
    CIFAR_MEAN,
    CIFAR_STD,
    SEED_MEAN,
    SEED_STD,
    DataError,
    Dataset,
    augment,
    load_dataset,
    to_model_input,
)
from .devices import DeviceError, autocast, resolve_device
from .distributed import DDP_DEVICE, Rank, all_sum, broadcast, from_env, gather_report, init, shutdown
from .evaluate import evaluate
from .files import atomic_torch_save
from .models import MODELS, get_model_spec
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from .runs import RESUMABLE, Run, RunError, RunStore, claim

Event = dict[str, Any]
AMP = ("off", "bf16", "fp16")
SAMPLE_COUNT = 32  # test images whose predictions every epoch event carries, for a live gallery
SMALL_BATCH = 32  # below this, PyTorch's plain convolution beats oneDNN's (whose per-call setup dominates):
# the tutorial's batch 4 on 2 threads: 3,600 img/s without oneDNN, 2,800 with it
LOG_SECONDS = 0.1  # step events at most this often; each carries the mean loss of the steps since the last
CHUNK_IMAGES = 8192  # training images prepared (normalised, augmented) at a time: ~100 MB as float32
SYNC_STEPS = 10  # under DDP, ranks agree on the loss and on pause / stop every this many steps
WHITEN_BIAS_TRAIN = (
    0.3  # airbench models train the whitening bias this part of the steps (airbench94: 3 of 10 ep)
)


@dataclass
class TrainConfig:
    data: str = "synthetic"  # "cifar10", "synthetic" or an ImageFolder path
    data_dir: str = "data"
    model: str = "tutorial"
    preset: str = ""
    device: str = "auto"
    epochs: float = 2  # fractions allowed: 0.5 trains half an epoch
    batch_size: int = 4
    optimizer: str = "sgd"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    norm_bias_lr_scale: float = 1.0  # batch-norm shifts learn this many times faster (airbench: 64)
    schedule: str = "constant"
    label_smoothing: float = 0.0
    flip: bool = False  # augmentation: random horizontal flip
    crop_pad: int = 0  # augmentation: pad by this many pixels, crop back to 32×32 at random
    tta: bool = False  # test-time augmentation: average with the flipped image
    amp: str = "off"  # autocast dtype: bf16 (CPU or CUDA) / fp16 (CUDA)
    channels_last: bool = False
    mean: tuple[float, ...] = SEED_MEAN
    std: tuple[float, ...] = SEED_STD
    seed: int = 0

    def problems(self) -> list[str]:
        """Every invalid value, as sentences a form or the CLI can show."""
        p = []
        if self.model not in MODELS:
            p.append(f"Model must be one of {', '.join(MODELS)}.")
        if not self.epochs > 0 or not math.isfinite(self.epochs):
            p.append("Epochs must be a positive number.")
        if self.batch_size < 1:
            p.append("Batch size must be at least 1.")
        if not self.lr > 0 or not math.isfinite(self.lr):
            p.append("Learning rate must be a positive number.")
        if not 0 <= self.momentum < 1:
            p.append("Momentum must be in [0, 1).")
        if self.weight_decay < 0:
            p.append("Weight decay must be ≥ 0.")
        if not self.norm_bias_lr_scale > 0:
            p.append("The norm-bias learning-rate scale must be positive.")
        if not 0 <= self.label_smoothing < 1:
            p.append("Label smoothing must be in [0, 1).")
        if self.optimizer not in OPTIMIZERS:
            p.append(f"Optimizer must be one of {', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            p.append(f"Schedule must be one of {', '.join(SCHEDULES)}.")
        if not 0 <= self.crop_pad <= 8:
            p.append("Crop padding must be between 0 and 8 pixels.")
        if self.amp not in AMP:
            p.append(f"Amp must be one of {', '.join(AMP)}.")
        return p


@dataclass(frozen=True)
class Preset:
    description: str
    values: dict[str, Any] = field(default_factory=dict)


AIRBENCH = dict(
    optimizer="nesterov",
    lr=1.5,
    momentum=0.85,
    weight_decay=1.3e-3,
    norm_bias_lr_scale=64.0,
    schedule="linear",
    label_smoothing=0.2,
    flip=True,
    crop_pad=2,
    tta=True,
    amp="bf16",
    channels_last=True,
    mean=CIFAR_MEAN,
    std=CIFAR_STD,
)  # airbench94's hyper-parameters, per mean loss

PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        "The tutorial's recipe exactly: Net, batch 4, SGD lr 0.001 momentum 0.9, 2 epochs.",
        dict(
            model="tutorial",
            epochs=2,
            batch_size=4,
            optimizer="sgd",
            lr=0.001,
            momentum=0.9,
            weight_decay=0.0,
            norm_bias_lr_scale=1.0,
            schedule="constant",
            label_smoothing=0.0,
            flip=False,
            crop_pad=0,
            tta=False,
            amp="off",
            channels_last=False,
            mean=SEED_MEAN,
            std=SEED_STD,
        ),
    ),
    "fast-cpu": Preset(
        "airbench94's recipe on a small network (airbench-mini): whitened input, nesterov SGD with "
        "fast batch-norm shifts, label smoothing, flip + translate, bf16, batch 256, 10 epochs, "
        "flip at test time: about 85 % in 3-4 minutes on 2 CPU cores. For a budget under a "
        "minute, batch 128 learns more per second (56 % in 4 s, 71 % in 15 s).",
        dict(model="airbench-mini", epochs=10, batch_size=256, **AIRBENCH | dict(lr=0.5)),
    ),
    "fast-gpu": Preset(
        "airbench94 on CUDA: the full-width network, bf16, batch 1024, 10 epochs (94 % in seconds).",
        dict(model="airbench", epochs=10, batch_size=1024, **AIRBENCH),
    ),
}


def make_config(preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the preset's values, then explicit overrides (None means "not given")."""
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset '{preset}'. Available: {', '.join(PRESETS)}.")
        values.update(PRESETS[preset].values, preset=preset)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})


def cli_command(cfg: TrainConfig) -> str:
    """The `python -m core.train …` line that reproduces `cfg`: the preset, then only what differs from it."""
    base = make_config(cfg.preset or None)
    launcher = (
        "python -m core.train"
        if cfg.device != DDP_DEVICE
        else f"torchrun --standalone --nproc_per_node={max(torch.cuda.device_count(), 2)} -m core.train"
    )
    parts = [launcher, f"--data {shlex.quote(cfg.data)}"]
    if cfg.preset:
        parts.append(f"--preset {cfg.preset}")
    for f in fields(TrainConfig):
        if f.name in ("data", "preset", "mean", "std"):
            continue
        value, default = getattr(cfg, f.name), getattr(base, f.name)
        if value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        parts.append(
            (flag if value else f"--no-{flag[2:]}")
            if isinstance(value, bool)
            else f"{flag} {shlex.quote(str(value))}"
        )
    return " ".join(parts)


class Control:
    """Cooperative pause / resume / stop, checked by the trainer between steps.

    Other threads call the methods; another process writes "pause", "resume" or "stop" into the
    run folder's `control` file, which the trainer reads at most twice a second."""

    def __init__(self, control_file: Path | None = None):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.control_file = control_file
        self._last_poll = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def poll(self) -> None:
        if self.control_file is None or time.monotonic() - self._last_poll < 0.5:
            return
        self._last_poll = time.monotonic()
        try:
            command = self.control_file.read_text().strip()
        except FileNotFoundError:
            return
        {"stop": self.stop, "pause": self.pause, "resume": self.resume}.get(command, lambda: None)()

    def wait_while_paused(self, on_pause: Callable[[], None], on_resume: Callable[[], None]) -> None:
        if not self.paused:
            return
        on_pause()
        while self.paused and not self.stopping:
            self._running.wait(0.25)
            self.poll()
        on_resume()


class Stopped(Exception):
    pass


class Diverged(Exception):
    pass


def _checkpoint(run: Run, model: nn.Module, opt, sched, epoch: int, step: int, classes: list[str]) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_torch_save(
        {
            "model": state,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched else None,
            "epoch": epoch,
            "step": step,
            "classes": classes,
        },
        run.checkpoint_path,
    )
    atomic_torch_save(state, run.model_path)


def train(
    cfg: TrainConfig,
    run: Run,
    on_event: Callable[[Event], None] | None = None,
    control: Control | None = None,
    dataset: Dataset | None = None,
    rank: Rank = Rank(),
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Train `cfg` into `run`, resuming from its checkpoint if it has one. Returns the final summary.

    Never raises for what can go wrong inside a run (bad data, NaN loss, a stop): the summary says
    `failed` / `stopped` with a reason. Bad configs and devices are the caller's to check first.
    Under torchrun every rank calls this with its `rank` and `device`; rank 0 alone writes the run folder."""
    control = control or Control(run.path / "control" if rank.main else None)
    act = (
        Control() if rank.active else control
    )  # what every rank acts on: rank 0's commands, agreed at sync points
    summary = run.summary() if rank.main else {}
    summary.update(status="running", model=cfg.model, preset=cfg.preset, data=cfg.data, **claim())
    if rank.active:
        summary["processes"] = rank.world
    started = time.monotonic()
    train_seconds = float(summary.get("train_seconds", 0.0))

    def save_summary() -> None:
        if rank.main:
            run.write_summary(summary)

    def emit(ev: Event) -> None:
        if not rank.main:
            return
        ev["time"] = time.time()
        run.append(ev)
        if on_event:
            on_event(ev)

    def finish(status: str, reason: str = "") -> dict[str, Any]:
        if (
            rank.active
            and rank.main
            and status == "failed"
            and (on_disk := run.summary())["status"] == "failed"
        ):
            reason = on_disk.get("reason") or reason  # the rank that failed first said why
        summary.update(
            status=status, reason=reason, finished=time.time(), train_seconds=round(train_seconds, 3)
        )
        if rank.main:
            run.write_summary(summary)
            emit({"type": "end", "status": status, "reason": reason})
            run.close()
        elif status == "failed":  # the first rank to fail says why, if it shares rank 0's file system
            try:
                if (on_disk := run.summary())["status"] != "failed":
                    run.write_summary(
                        {**on_disk, "status": "failed", "reason": f"rank {rank.rank}: {reason}"}
                    )
            except OSError:
                pass
        return summary

    try:
        device = device or resolve_device(cfg.device)
        summary["device"] = DDP_DEVICE if rank.active else str(device)
        save_summary()
        if device.type == "cpu":  # every core (shared among this machine's ranks): the loop is all tensor ops
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            torch.set_num_threads(max(1, cores // rank.local_world))
        last_data_event = [0.0]

        def data_progress(stage: str, done: int, total: int) -> None:  # at most 4 events a second
            if done >= total or time.monotonic() - last_data_event[0] > 0.25:
                last_data_event[0] = time.monotonic()
                emit({"type": "data", "stage": stage, "done": done, "total": total})

        ds = (dataset or load_dataset(cfg.data, cfg.data_dir, data_progress)).to(device)
        if cfg.batch_size > len(ds.train_y):
            raise DataError(
                f"batch size {cfg.batch_size} is larger than the {len(ds.train_y)} training images."
            )
        if cfg.batch_size < rank.world:
            raise ValueError(
                f"batch size {cfg.batch_size} is smaller than the {rank.world} processes sharing it."
            )
        spec = get_model_spec(cfg.model)
        torch.manual_seed(cfg.seed)
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        net = spec.build(ds.num_classes).to(device, memory_format=fmt)
        steps_per_epoch = math.ceil(len(ds.train_y) / cfg.batch_size)  # the last, smaller batch is kept ...
        if 0 < len(ds.train_y) % cfg.batch_size < rank.world:
            steps_per_epoch -= 1  # ... unless it is too small to give every rank an image
        total_steps = max(1, round(cfg.epochs * steps_per_epoch))
        opt = make_optimizer(
            net, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.norm_bias_lr_scale
        )
        sched = make_schedule(opt, cfg.schedule, total_steps)
        criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and device.type == "cuda")
        summary.update(
            classes=ds.classes,
            parameters=sum(p.numel() for p in net.parameters()),
            epochs=cfg.epochs,
            dataset=ds.describe(),
        )
        epoch0, step0 = 0, 0
        ck = (
            torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
            if rank.main and run.checkpoint_path.exists()
            else None
        )
        ck = broadcast(ck, rank)  # every rank resumes from rank 0's checkpoint
        if ck:
            net.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            if sched and ck["scheduler"]:
                sched.load_state_dict(ck["scheduler"])
            epoch0, step0 = ck["epoch"], ck["step"]
            emit(
                {
                    "type": "resume",
                    "epoch": epoch0,
                    "step": step0,
                    "global_step": epoch0 * steps_per_epoch + step0,
                }
            )
        else:
            if hasattr(net, "init_whitening"):  # airbench: the first layer whitens 2×2 patches of the data
                net.init_whitening(to_model_input(ds.train_x[:5000], spec.in_channels, cfg.mean, cfg.std))
            emit(
                {
                    "type": "start",
                    "dataset": ds.describe(),
                    "classes": ds.classes,
                    "device": summary["device"],
                    "parameters": summary["parameters"],
                    "steps_per_epoch": steps_per_epoch,
                    "epochs": cfg.epochs,
                    "total_steps": total_steps,
                    "skipped_files": len(ds.skipped),
                }
            )
        # airbench: the whitening layer's bias learns during the first part of the run only, then freezes, which
        # spares the backward pass through the input of the biggest convolution (frozen throughout: +11 % img/s
        # at 4 epochs). Not under DDP, whose gradient buckets are fixed when it wraps the model.
        freeze_whiten_at = (
            round(WHITEN_BIAS_TRAIN * total_steps) if hasattr(net, "whiten") and not rank.active else None
        )
        model = (
            DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
            if rank.active
            else net
        )  # DDP: rank 0's weights to all, gradients averaged in backward
        save_summary()
        sample_idx = torch.linspace(0, len(ds.test_y) - 1, min(SAMPLE_COUNT, len(ds.test_y))).long()
        sample_true = ds.test_y[sample_idx.to(device)].tolist()
        if rank.main and not run.samples_path.exists():
            atomic_torch_save(
                {
                    "images": ds.test_x[sample_idx.to(device)].cpu(),
                    "labels": sample_true,
                    "classes": ds.classes,
                },
                run.samples_path,
            )
        test_shard = torch.arange(
            rank.rank, len(ds.test_y), rank.world
        )  # each rank scores its shard; gathered
        test_x, test_y = (
            (ds.test_x[test_shard.to(device)], ds.test_y[test_shard.to(device)])
            if rank.active
            else (ds.test_x, ds.test_y)
        )
        # Batches are cut from chunks of CHUNK_IMAGES normalised, augmented images: a few big tensor ops instead
        # of several small ones per step (at the tutorial's batch 4 those were a tenth of the step).
        chunk_steps = max(1, CHUNK_IMAGES // cfg.batch_size)
        share = len(range(rank.rank, cfg.batch_size, rank.world))  # this rank's images of a full batch
        window_t, window_n, images_per_s = time.monotonic(), 0, 0.0
        images_seen, seconds0 = 0, train_seconds  # this session's throughput, for the summary

        def pause_event(status: str) -> Callable[[], None]:
            def f() -> None:
                summary["status"] = status
                save_summary()
                emit({"type": status})

            return f

        on_pause, on_resume = pause_event("paused"), pause_event("running")

        def agree() -> None:
            """Under DDP: every rank takes on rank 0's stop / pause / resume (a collective: all ranks call it)."""
            stop, pause = all_sum(
                [float(rank.main and control.stopping), float(rank.main and control.paused)], device, rank
            )
            if stop:
                act.stop()
            elif pause:
                act.pause()
            else:
                act.resume()

        def wait_while_paused() -> None:
            if not rank.active:
                return control.wait_while_paused(on_pause, on_resume)
            if not act.paused:
                return
            on_pause()
            while act.paused and not act.stopping:
                time.sleep(0.25)
                control.poll()
                agree()
            on_resume()

        torch.backends.mkldnn.enabled = not (device.type == "cpu" and cfg.batch_size < SMALL_BATCH)
        # Tiny values early in training are denormal floats, which x86 handles in slow microcode: flushing them
        # to zero took the tutorial's loop from 2,000-2,800 img/s to 3,600. The flag is per thread and OpenMP
        # threads copy it when created, so the CLI sets it first thing; here it covers at least this thread.
        torch.set_flush_denormal(device.type == "cpu")
        started = (
            time.monotonic()
        )  # training time starts here: loading data and building the model are not in it
        for epoch in range(epoch0, math.ceil(total_steps / steps_per_epoch)):
            model.train()
            g = torch.Generator(device).manual_seed(
                cfg.seed * 1_000_003 + epoch
            )  # same order on resume, every rank
            perm = torch.randperm(len(ds.train_y), device=device, generator=g)
            # Summed on the device in one op per step (no sync); a log reads it once and takes the difference.
            loss_sum = torch.zeros(
                (), device=device, dtype=torch.float32 if device.type == "mps" else torch.float64
            )
            loss_n, logged, pending_n, last_log = 0, 0.0, 0, 0.0
            steps_here = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
            chunk, chunk_start = None, 0
            for step in range(step0 if epoch == epoch0 else 0, steps_here):
                control.poll()
                t_pause = time.monotonic()
                wait_while_paused()
                started += time.monotonic() - t_pause  # paused time is not training time
                if act.stopping:
                    train_seconds += time.monotonic() - started
                    if rank.main:
                        _checkpoint(run, net, opt, sched, epoch, step, ds.classes)
                    emit({"type": "checkpoint", "epoch": epoch, "step": step})
                    raise Stopped
                if freeze_whiten_at is not None and epoch * steps_per_epoch + step >= freeze_whiten_at:
                    net.whiten.bias.requires_grad_(False)
                    freeze_whiten_at = None
                if chunk is None or step >= chunk_start + chunk_steps:  # the next few thousand images at once
                    chunk_start = step
                    rows = perm[step * cfg.batch_size : min(step + chunk_steps, steps_here) * cfg.batch_size]
                    if rank.active:  # this rank's share of each batch: DistributedSampler's stride
                        rows = rows[
                            torch.arange(len(rows), device=device) % cfg.batch_size % rank.world == rank.rank
                        ]
                    x = augment(
                        to_model_input(ds.train_x[rows], spec.in_channels, cfg.mean, cfg.std),
                        cfg.flip,
                        cfg.crop_pad,
                        g,
                    )
                    chunk = x.contiguous(memory_format=fmt), ds.train_y[rows]
                lo = (
                    step - chunk_start
                ) * share  # every batch but an epoch's last is full: shares start evenly
                x, y = chunk[0][lo : lo + share], chunk[1][lo : lo + share]
                n_global = min(cfg.batch_size, len(ds.train_y) - step * cfg.batch_size)
                with autocast(device, cfg.amp):
                    loss = criterion(model(x), y)
                opt.zero_grad(set_to_none=True)
                if rank.active:  # DDP averages over ranks; weighting by share size makes that the global mean
                    loss = loss * (len(y) * rank.world / n_global)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                lr = opt.param_groups[0]["lr"]
                if sched:
                    sched.step()
                loss_sum.add_(loss.detach(), alpha=n_global / rank.world)  # += the share's summed loss
                loss_n, pending_n = loss_n + len(y), pending_n + len(y)
                window_n += n_global
                images_seen += n_global
                now = time.monotonic()
                if now - window_t >= 0.5:
                    images_per_s, window_t, window_n = window_n / (now - window_t), now, 0
                last = step == steps_here - 1
                due = (step + 1) % SYNC_STEPS == 0 if rank.active else now - last_log >= LOG_SECONDS
                if not (due or last):
                    continue
                summed = loss_sum.item()
                if rank.active:  # ranks meet every SYNC_STEPS steps: the loss over all of them, and commands
                    total, count = all_sum([summed - logged, float(pending_n)], device, rank)
                    agree()
                    value = total / max(count, 1)
                else:
                    value = (summed - logged) / pending_n
                logged, pending_n, last_log = summed, 0, now
                if not math.isfinite(value):
                    raise Diverged(
                        f"the loss became {value} at epoch {epoch + 1}, step {step + 1}: training "
                        f"diverged. Lower the learning rate (now {cfg.lr:g}), e.g. to {cfg.lr / 10:g}"
                        + (
                            ", or add a schedule with warm-up (onecycle)"
                            if cfg.schedule == "constant"
                            else ""
                        )
                        + "."
                    )
                emit(
                    {
                        "type": "step",
                        "epoch": epoch,
                        "step": step,
                        "global_step": epoch * steps_per_epoch + step,
                        "loss": value,
                        "lr": lr,
                        "images_per_s": round(images_per_s, 1),
                    }
                )
            train_seconds += time.monotonic() - started
            part = evaluate(
                net,
                test_x,
                test_y,
                ds.classes,
                spec.in_channels,
                cfg.mean,
                cfg.std,
                tta=cfg.tta,
                memory_format=fmt,
                amp=cfg.amp,
            )
            report = gather_report(part, test_shard, len(ds.test_y), rank)
            train_loss, train_n = all_sum([loss_sum.item(), float(loss_n)], device, rank)
            started = time.monotonic()
            if rank.main:
                _checkpoint(run, net, opt, sched, epoch + 1, 0, ds.classes)
            summary.update(
                test_accuracy=report.accuracy,
                per_class_accuracy=report.per_class_accuracy(),
                best_accuracy=max(report.accuracy, summary.get("best_accuracy", 0.0)),
                epochs_completed=epoch + 1,
                train_seconds=round(train_seconds, 3),
                images_per_s=round(images_seen / max(train_seconds - seconds0, 1e-9), 1),
            )
            save_summary()
            emit(
                {
                    "type": "epoch",
                    "epoch": epoch + 1,
                    "train_loss": train_loss / max(train_n, 1),
                    "test_loss": report.loss,
                    "test_accuracy": report.accuracy,
                    "train_seconds": train_seconds,
                    "per_class_accuracy": report.per_class_accuracy(),
                    "samples": {
                        "index": sample_idx.tolist(),
                        "true": sample_true,
                        "predicted": report.predictions[sample_idx].tolist(),
                    },
                }
            )
            emit({"type": "checkpoint", "epoch": epoch + 1, "step": 0})
        return finish("completed")
    except Stopped:
        return finish("stopped", "stopped by the user; resume continues from the saved checkpoint")
    except Diverged as e:
        return finish("failed", str(e))
    except (DataError, DeviceError, RunError, ValueError) as e:
        return finish("failed", str(e))
    except torch.cuda.OutOfMemoryError:
        return finish("failed", f"the GPU ran out of memory; lower the batch size (now {cfg.batch_size}).")
    except Exception as e:  # anything else is still recorded, never a silent dead run
        finish("failed", f"{type(e).__name__}: {e}")
        raise
    finally:
        torch.backends.mkldnn.enabled = True
        torch.set_flush_denormal(False)


# --- CLI ---------------------------------------------------------------------------------------------


class ProgressLine:
    """One self-rewriting line on stderr: epoch, step, loss, images/s, ETA."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.last, self.t0, self.steps_per_epoch, self.epochs = (
            stream,
            0.0,
            time.monotonic(),
            1,
            1,
        )
        self.first_step, self.total = None, 1

    def __call__(self, ev: Event) -> None:
        kind = ev["type"]
        if kind in ("start", "resume"):
            self.steps_per_epoch = ev.get("steps_per_epoch", self.steps_per_epoch)
            self.epochs = ev.get("epochs", self.epochs)
            self.total = ev.get("total_steps") or self.steps_per_epoch * self.epochs
        elif kind == "step":
            now = time.monotonic()
            if self.first_step is None:
                self.first_step, self.t0 = ev["global_step"], now
            if now - self.last < 0.2:
                return
            self.last = now
            total = self.total
            done = ev["global_step"] + 1
            rate = (done - self.first_step) / max(now - self.t0, 1e-9)
            eta = (total - done) / rate if rate > 0 else 0
            bar = "#" * int(30 * done / total)
            self.stream.write(
                f"\repoch {ev['epoch'] + 1}/{self.epochs:g} [{bar:<30}] step {ev['step'] + 1}/"
                f"{self.steps_per_epoch} loss {ev['loss']:.3f} {ev['images_per_s']:.0f} img/s "
                f"ETA {eta:.0f}s "
            )
            self.stream.flush()
        elif kind == "epoch":
            self.stream.write(
                f"\repoch {ev['epoch']}: train loss {ev['train_loss']:.3f}, test accuracy "
                f"{ev['test_accuracy']:.2%}" + " " * 40 + "\n"
            )
        elif kind == "data" and ev["total"]:
            self.stream.write(f"\r{ev['stage']}: {ev['done']:,}/{ev['total']:,}   ")
        elif kind == "paused":
            self.stream.write("\npaused\n")


def _epochs(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.train",
        description="Train a CIFAR-10-style classifier "
        "into a run folder. Values: defaults < --preset < explicit flags.",
    )
    p.add_argument(
        "--data", help="cifar10 | synthetic | PATH to an ImageFolder-layout folder (train/, test/)"
    )
    p.add_argument("--data-dir", default=None, help="where CIFAR-10 and decoded caches live (default ./data)")
    p.add_argument("--model", choices=list(MODELS))
    p.add_argument("--preset", choices=list(PRESETS))
    p.add_argument("--epochs", type=_epochs, help="a whole number, or a fraction such as 0.5")
    p.add_argument("--batch-size", type=int)
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="sgd (with --momentum > 0: SGD+momentum), nesterov, adam, adamw",
    )
    p.add_argument("--lr", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--crop-pad", type=int)
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--amp", choices=AMP)
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu | cuda | cuda:N | mps | auto (default)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--name", help="a label for the run, part of its folder name")
    p.add_argument(
        "--resume", metavar="RUN_ID", help="continue a stopped or interrupted run from its checkpoint"
    )
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # train into a run folder the app prepared
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


class Terminated(Exception):
    pass


def _terminated(signum, frame) -> None:
    raise Terminated(
        "torchrun ended this process (another rank failed, or the job was cancelled); see torchrun's output"
    )


class UsageError(ValueError):
    """A command line that cannot start a run; the CLI prints it and exits with status 2."""


def _prepare(args: argparse.Namespace, store: RunStore) -> tuple[TrainConfig, Run]:
    """The config and run folder the command line asks for: a new run, or one to resume / train into."""
    if args.resume or args.run_id:
        try:
            run = store.open(args.resume or args.run_id)
        except RunError as e:
            raise UsageError(str(e)) from None
        if args.resume and run.status not in RESUMABLE:
            raise UsageError(
                f"run {run.id} is {run.status}; only stopped, interrupted or failed runs can resume."
            )
        cfg = TrainConfig(**{**run.config(), **({"device": args.device} if args.device else {})})
    else:
        if not args.data:
            raise UsageError("--data is required (cifar10, synthetic or a folder path)")
        overrides = {
            k: v for k, v in vars(args).items() if k not in ("preset", "runs_dir", "name", "resume", "quiet")
        }
        cfg = make_config(args.preset, **overrides)
    if problems := cfg.problems():
        raise UsageError(" ".join(problems))
    if not from_env().active:
        if cfg.device == DDP_DEVICE:
            raise UsageError(
                "--device ddp runs one process per GPU; start it with torchrun: "
                "torchrun --nproc_per_node=N -m core.train …"
            )
        resolve_device(cfg.device)  # DeviceError lists what exists
    if not (args.resume or args.run_id):
        run = store.create(asdict(cfg), args.name)
    if args.resume:
        (run.path / "control").unlink(
            missing_ok=True
        )  # the "stop" that ended the last session must not replay
    return cfg, run


def main(argv: list[str] | None = None) -> int:
    torch.set_flush_denormal(
        True
    )  # before any parallel op, so every OpenMP thread starts with it (see train)
    p = parser()
    args = p.parse_args(argv)
    store = RunStore(args.runs_dir)
    rank = from_env()
    device = None
    if rank.active:  # under torchrun: join the group, then rank 0 prepares the run and tells the others
        try:
            device = init(rank, args.device or "auto")
        except DeviceError as e:
            p.error(str(e))
        payload = None
        if rank.main:
            try:
                cfg, run = _prepare(args, store)
                payload = {"config": asdict(cfg), "path": str(run.path)}
            except (ValueError, DeviceError) as e:
                payload = {"error": str(e)}
        payload = broadcast(payload, rank)
        if "error" in payload:
            shutdown()
            p.error(payload["error"]) if rank.main else sys.exit(2)
        cfg, run = TrainConfig(**payload["config"]), run if rank.main else Run(Path(payload["path"]))
    else:
        try:
            cfg, run = _prepare(args, store)
        except (ValueError, DeviceError) as e:
            p.error(str(e))
    if rank.main:
        print(f"run folder: {run.path}", flush=True)
    if rank.active:  # torchrun ends the other ranks with SIGTERM when one fails: record it, don't just vanish
        signal.signal(signal.SIGTERM, _terminated)
    control = Control(run.path / "control" if rank.main else None)
    stop_once = lambda *_: (control.stop(), signal.signal(signal.SIGINT, signal.default_int_handler))
    signal.signal(signal.SIGINT, stop_once)  # first Ctrl-C: stop cleanly with a checkpoint
    progress = ProgressLine() if rank.main and not args.quiet else None
    try:
        summary = train(cfg, run, on_event=progress, control=control, rank=rank, device=device)
    finally:
        shutdown()
    if rank.main:
        sys.stderr.write("\n")
        print(f"status: {summary['status']}" + (f" ({summary['reason']})" if summary.get("reason") else ""))
        if "test_accuracy" in summary:
            print(
                f"test accuracy: {summary['test_accuracy']:.2%} after {summary.get('epochs_completed', 0)} "
                f"epoch(s), {summary['train_seconds']:.1f} s of training on {summary['device']}"
                + (f" ({rank.world} processes, {device.type})" if rank.active else "")
            )
        print(f"run folder: {run.path}")
    return 0 if summary["status"] in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
