"""The trainer: a TrainConfig in, a run folder out, events to a callback while it runs.

    python -m core.train --data synthetic --preset tutorial --epochs 1      (the command line: core/train.py)

`train()` reads top to bottom: set up (`prepare`: data, network, optimizer, resume point), then for each
epoch its steps (control, forward/backward/step, log) and its end (evaluate, checkpoint). Beside it:
core/config.py (the config), core/batches.py (the batches, cut from prepared chunks on the device),
core/control.py (pause / resume / stop), core/recorder.py (what the run folder gets), core/distributed.py
(torchrun: under DDP every rank runs this loop and rank 0 alone writes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .batches import Batch, Batches
from .config import TrainConfig
from .control import Control, Stopped
from .data import DataError, Dataset, load_dataset, to_model_input
from .devices import (
    DDP_DEVICE,
    DeviceError,
    autocast,
    cpu_cores,
    machine,
    resolve_device,
    speed_switches,
)
from .distributed import SINGLE_PROCESS, Rank, agree, all_gather, all_sum, broadcast
from .evaluation import Report, evaluate
from .files import DiskFull
from .messages import MessageError, Phrase
from .models import WHITEN_BIAS_TRAIN, ModelSpec, get_model_spec
from .optim import hyperparameter_problems, make_optimizer, make_schedule, set_hyperparameters
from .recorder import (
    BATCH_TOO_LARGE,
    BATCH_TOO_SMALL,
    DIVERGED,
    OUT_OF_MEMORY,
    STOPPED,
    UNEXPECTED,
    WARMUP,
    Event,
    Recorder,
    reason_fields,
)
from .runs import Run, RunError

SAMPLE_COUNT = 32  # test images whose predictions every epoch event carries, for a live gallery
LOG_SECONDS = 0.1  # step events at most this often; each carries the mean loss of the steps since the last
SYNC_STEPS = 10  # under DDP, ranks agree on the loss and on pause / stop every this many steps


class Diverged(MessageError):
    """The loss is not a finite number: training cannot recover from it."""


def train(
    cfg: TrainConfig,
    run: Run,
    on_event: Callable[[Event], None] | None = None,
    control: Control | None = None,
    dataset: Dataset | None = None,
    rank: Rank = SINGLE_PROCESS,
    device: torch.device | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train `cfg` into `run`, resuming from its checkpoint if it has one. Returns the final summary.
    On a CPU it uses `threads` threads (default: every core this process may use, shared among the ranks).

    What can go wrong inside a run (bad data, a device error, NaN loss, out of memory, a stop) ends it
    `failed` / `stopped` with a reason. Anything else is a bug: recorded as failed, its traceback in
    train.log, and raised. Under torchrun every rank calls this with its `rank` and `device`."""
    control = control or Control(run.control_path if rank.main else None)
    agreed = Control() if rank.distributed else control  # what every rank acts on: rank 0's commands
    rec = Recorder(run, rank, on_event)
    control.on_refused = lambda why: rec.emit({"type": "control", **reason_fields(why, "refused")})
    rec.summary.update(model=cfg.model, preset=cfg.preset, data=cfg.data)
    clock = Stopwatch(float(rec.summary.get("train_seconds", 0.0)))
    threads_before = torch.get_num_threads()  # prepare sets the run's; a caller's process gets its own back
    try:
        s = prepare(cfg, run, rec, dataset, rank, device, threads)
        sync = lambda: agree(control, agreed, s.device, rank)  # a collective: every rank at the same step
        tick = (lambda: (control.poll(), sync())) if rank.distributed else control.poll
        on_pause, on_resume = rec.status("paused"), rec.status("running")
        speed = Throughput()
        clock.start()  # training time starts here: loading data and building the model are not in it
        for epoch in range(s.epoch0, s.batches.epochs):
            s.model.train()
            running, last_log = RunningLoss(s.device, rank), 0.0
            for b in s.batches.epoch(epoch, s.step0 if epoch == s.epoch0 else 0):
                global_step = epoch * s.batches.steps_per_epoch + b.step
                # control: a pause is not training time; a stop saves a checkpoint at this step first
                control.poll()
                clock.exclude(agreed.wait_while_paused(on_pause, on_resume, tick))
                if agreed.stopping:
                    clock.stop()
                    rec.checkpoint(s.state, epoch, b.step)
                    raise Stopped
                if (
                    agreed.hyperparameters
                ):  # `set lr=…` (typed while paused): applied, and kept in a checkpoint
                    if rec.retuned(s.retune(agreed.hyperparameters), epoch, b.step, global_step):
                        rec.checkpoint(s.state, epoch, b.step)
                    agreed.hyperparameters = {}
                if s.freeze_whiten_at is not None and global_step >= s.freeze_whiten_at:
                    s.net.whiten.bias.requires_grad_(False)
                    s.freeze_whiten_at = None
                # forward, backward, step
                lr, batch_loss = step(cfg, s, b, rank)
                running.add(batch_loss, len(b.y), b.images)
                speed.add(b.images)
                # log the mean loss since the last log, a few times a second (under DDP: every SYNC_STEPS)
                now = time.monotonic()
                due = (b.step + 1) % SYNC_STEPS == 0 if rank.distributed else now - last_log >= LOG_SECONDS
                if not (due or b.last):
                    continue
                loss = running.since_last_log()
                if rank.distributed:
                    sync()
                last_log = now
                if not math.isfinite(loss):
                    raise divergence_advice(cfg, loss, epoch, b.step)
                rec.step(epoch, b.step, global_step, loss, lr, speed.rate)
            # end of epoch: evaluate on the test set (each rank its shard, gathered), not training time
            clock.stop()
            report, train_loss = test(cfg, s, rank), running.epoch_mean()
            clock.start()
            # checkpoint, summary and the epoch's event
            rec.checkpoint(s.state, epoch + 1, 0)
            rate = speed.images / max(clock.session_seconds, 1e-9)
            rec.epoch(epoch + 1, report, train_loss, clock.seconds, rate, s.sample_idx, s.sample_true)
        return rec.finish("completed", "", clock.seconds)
    except Stopped:
        return rec.finish("stopped", Phrase(STOPPED), clock.seconds)
    except (Diverged, DataError, DeviceError, RunError, DiskFull) as e:
        return rec.finish("failed", e, clock.seconds)
    except torch.cuda.OutOfMemoryError:
        return rec.finish("failed", Phrase(OUT_OF_MEMORY, batch=cfg.batch_size), clock.seconds)
    except Exception as e:  # a bug: still recorded, never a silent dead run
        rec.log_traceback(e)
        reason = (
            e
            if isinstance(e, MessageError)
            else Phrase(UNEXPECTED, error=f"{type(e).__name__}: {e}", log=run.log_path.name)
        )
        rec.finish("failed", reason, clock.seconds)
        raise
    finally:
        torch.backends.mkldnn.enabled = True
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads_before)


def step(cfg: TrainConfig, s: Session, b: Batch, rank: Rank) -> tuple[float, torch.Tensor]:
    """One optimizer step on batch `b`: the learning rate it used, and the loss (on the device)."""
    with autocast(s.device, cfg.amp):
        loss = s.criterion(s.model(b.x), b.y)
    s.opt.zero_grad(set_to_none=True)
    if rank.distributed:  # DDP averages over ranks; weighting by share size makes that the global mean
        loss = loss * (len(b.y) * rank.world / b.images)
    s.scaler.scale(loss).backward()
    s.scaler.step(s.opt)
    s.scaler.update()
    lr = s.opt.param_groups[0]["lr"]
    if s.sched:
        s.sched.step()
    return lr, loss.detach()


def test(cfg: TrainConfig, s: Session, rank: Rank) -> Report:
    """Accuracy on the test set: each rank scores its shard, the reports are gathered."""
    part = evaluate(
        s.net,
        *s.test,
        s.ds.classes,
        s.spec.in_channels,
        cfg.mean,
        cfg.std,
        tta=cfg.tta,
        memory_format=s.memory_format,
        amp=cfg.amp,
    )
    if not rank.distributed:
        return part
    return Report.merge(all_gather((s.test_shard.cpu(), part), rank), len(s.ds.test_y))


def divergence_advice(cfg: TrainConfig, loss: float, epoch: int, step: int) -> Diverged:
    return Diverged(
        DIVERGED,
        loss=str(loss),
        epoch=epoch + 1,
        step=step + 1,
        lr=f"{cfg.lr:g}",
        lower=f"{cfg.lr / 10:g}",
        warmup=Phrase(WARMUP) if cfg.schedule == "constant" else "",
    )


# --- setup --------------------------------------------------------------------------------------------


@dataclass
class Session:
    """Everything `train()` builds before its first step."""

    device: torch.device
    ds: Dataset
    spec: ModelSpec
    net: nn.Module  # the network; `model` is what runs the steps (the DDP wrapper under torchrun)
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    criterion: nn.Module
    scaler: torch.amp.GradScaler
    batches: Batches
    memory_format: torch.memory_format
    freeze_whiten_at: int | None
    test: tuple[torch.Tensor, torch.Tensor]  # this rank's test images and labels
    test_shard: torch.Tensor  # their indices in the test set
    sample_idx: torch.Tensor
    sample_true: list[int]
    optimizer_name: str
    hyperparameters: dict[str, float] = field(default_factory=dict)  # lr (peak), momentum, weight decay
    epoch0: int = 0  # where training starts: 0, 0 unless resuming
    step0: int = 0

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps besides its position (core/recorder.py writes it)."""
        return {
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict() if self.sched else None,
            "classes": self.ds.classes,
            "hyperparameters": self.hyperparameters,
        }

    def retune(self, values: dict[str, float]) -> dict[str, Any]:
        """Apply new hyper-parameters: {"changed": values in force}, {"refused": why} or {} (nothing new)."""
        if problems := hyperparameter_problems(values, self.optimizer_name):
            return {"refused": problems}
        if all(self.hyperparameters.get(k) == v for k, v in values.items()):
            return {}
        self.hyperparameters = set_hyperparameters(self.opt, self.sched, self.hyperparameters, values)
        return {"changed": self.hyperparameters}


def prepare(
    cfg: TrainConfig,
    run: Run,
    rec: Recorder,
    dataset: Dataset | None,
    rank: Rank,
    device: torch.device | None,
    threads: int | None = None,
) -> Session:
    """Device, data, network, optimizer and the point to start from (the checkpoint's, when there is one)."""
    device = device or resolve_device(cfg.device)
    rec.save(device=DDP_DEVICE if rank.distributed else str(device))
    if device.type == "cpu":  # every core (shared among this machine's ranks): the loop is all tensor ops
        torch.set_num_threads(threads or max(1, cpu_cores() // rank.local_world))
    ds = (dataset or load_dataset(cfg.data, cfg.data_dir, rec.data_progress)).to(device)
    if cfg.batch_size > len(ds.train_y):
        raise DataError(BATCH_TOO_LARGE, batch=cfg.batch_size, size=len(ds.train_y))
    if cfg.batch_size < rank.world:
        raise DataError(BATCH_TOO_SMALL, batch=cfg.batch_size, processes=rank.world)
    # the network, its optimizer, schedule and loss
    spec = get_model_spec(cfg.model, cfg.layers)
    torch.manual_seed(cfg.seed)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    net = spec.build(ds.num_classes).to(device, memory_format=fmt)
    batches = Batches(ds, cfg, rank, spec.in_channels, fmt)
    opt = make_optimizer(net, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.norm_bias_lr_scale)
    sched = make_schedule(opt, cfg.schedule, batches.total_steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and device.type == "cuda")
    params = sum(p.numel() for p in net.parameters())
    rec.save(
        classes=ds.classes,
        parameters=params,
        epochs=cfg.epochs,
        dataset=ds.describe(),
        machine=machine(device),
        threads=torch.get_num_threads() if device.type == "cpu" else None,
    )
    # airbench: the whitening layer's bias learns during the first part of the run only, then freezes, which
    # spares the backward pass through the input of the biggest convolution (frozen throughout: +11 % img/s
    # at 4 epochs). Not under DDP, whose gradient buckets are fixed when it wraps the model.
    freeze = hasattr(net, "whiten") and not rank.distributed
    freeze_whiten_at = round(WHITEN_BIAS_TRAIN * batches.total_steps) if freeze else None
    # DDP: rank 0's weights to all, gradients averaged in backward
    ids = [device.index] if device.type == "cuda" else None
    model = DistributedDataParallel(net, device_ids=ids) if rank.distributed else net
    # the test set (each rank scores its shard) and the gallery's fixed sample of it
    sample_idx = torch.linspace(0, len(ds.test_y) - 1, min(SAMPLE_COUNT, len(ds.test_y))).long()
    sample_true = ds.test_y[sample_idx.to(device)].tolist()
    rec.samples(ds.test_x[sample_idx.to(device)], sample_true, ds.classes)
    shard = torch.arange(rank.rank, len(ds.test_y), rank.world)
    test = (
        (ds.test_x[shard.to(device)], ds.test_y[shard.to(device)])
        if rank.distributed
        else (ds.test_x, ds.test_y)
    )
    speed_switches(device, cfg.batch_size, cfg.amp)
    s = Session(
        device,
        ds,
        spec,
        net,
        model,
        opt,
        sched,
        criterion,
        scaler,
        batches,
        fmt,
        freeze_whiten_at,
        test,
        shard,
        sample_idx,
        sample_true,
        cfg.optimizer,
    )
    s.hyperparameters = {"lr": cfg.lr, "momentum": cfg.momentum, "weight_decay": cfg.weight_decay}
    resume_or_start(s, cfg, run, rec, rank)
    return s


def resume_or_start(s: Session, cfg: TrainConfig, run: Run, rec: Recorder, rank: Rank) -> None:
    """Every rank resumes from rank 0's checkpoint (weights, optimizer, schedule, position, hyper-parameters
    as changed during the run), or the run starts fresh; either is recorded as an event."""
    ck = (
        torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
        if rank.main and run.checkpoint_path.exists()
        else None
    )
    ck = broadcast(ck, rank)
    if ck:
        s.net.load_state_dict(ck["model"])
        s.opt.load_state_dict(ck["optimizer"])
        if s.sched and ck["scheduler"]:
            s.sched.load_state_dict(ck["scheduler"])
        s.epoch0, s.step0 = ck["epoch"], ck["step"]
        s.hyperparameters = ck.get("hyperparameters") or s.hyperparameters
        global0 = s.epoch0 * s.batches.steps_per_epoch + s.step0
        rec.emit({"type": "resume", "epoch": s.epoch0, "step": s.step0, "global_step": global0})
        return
    if hasattr(s.net, "init_whitening"):  # airbench: the first layer whitens 2×2 patches of the data
        s.net.init_whitening(to_model_input(s.ds.train_x[:5000], s.spec.in_channels, cfg.mean, cfg.std))
    sizes = {
        "steps_per_epoch": s.batches.steps_per_epoch,
        "epochs": cfg.epochs,
        "total_steps": s.batches.total_steps,
    }
    data = {"dataset": s.ds.describe(), "classes": s.ds.classes, "skipped_files": len(s.ds.skipped)}
    rec.emit(
        {
            "type": "start",
            **data,
            "device": rec.summary["device"],
            "parameters": rec.summary["parameters"],
            **sizes,
        }
    )


# --- small meters -------------------------------------------------------------------------------------


class RunningLoss:
    """An epoch's training loss, summed on the device in one op per step (no sync); a log reads it once."""

    def __init__(self, device: torch.device, rank: Rank):
        dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        self.sum, self.device, self.rank = torch.zeros((), device=device, dtype=dtype), device, rank
        self.images, self.logged, self.pending = 0, 0.0, 0

    def add(self, loss: torch.Tensor, images: int, global_images: int) -> None:
        """`loss`: this rank's mean over its `images` of a batch of `global_images`."""
        self.sum.add_(loss, alpha=global_images / self.rank.world)  # += the share's summed loss
        self.images += images
        self.pending += images

    def since_last_log(self) -> float:
        """The mean loss of the images since the last call, over every rank (a collective under DDP)."""
        summed = self.sum.item()
        total, count = all_sum([summed - self.logged, float(self.pending)], self.device, self.rank)
        self.logged, self.pending = summed, 0
        return total / max(count, 1)

    def epoch_mean(self) -> float:
        total, count = all_sum([self.sum.item(), float(self.images)], self.device, self.rank)
        return total / max(count, 1)


class Throughput:
    """Images per second over the last half second or more, and images seen in this session."""

    def __init__(self):
        self.t, self.window, self.rate, self.images = time.monotonic(), 0, 0.0, 0

    def add(self, images: int) -> None:
        self.window += images
        self.images += images
        now = time.monotonic()
        if now - self.t >= 0.5:
            self.rate, self.t, self.window = self.window / (now - self.t), now, 0


class Stopwatch:
    """Training seconds: earlier sessions' (from the summary) plus this one's, without pauses or tests."""

    def __init__(self, before: float = 0.0):
        self.before, self.total, self._since = before, before, None

    def start(self) -> None:
        self._since = time.monotonic()

    def stop(self) -> None:
        if self._since is not None:
            self.total += time.monotonic() - self._since
            self._since = None

    def exclude(self, seconds: float) -> None:
        if self._since is not None:
            self._since += seconds

    @property
    def seconds(self) -> float:
        return self.total + (time.monotonic() - self._since if self._since is not None else 0.0)

    @property
    def session_seconds(self) -> float:
        return self.seconds - self.before
