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
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .data import SEED_MEAN, SEED_STD, DataError, Dataset, augment, load_dataset, to_model_input
from .devices import DeviceError, resolve_device
from .evaluate import evaluate
from .files import atomic_torch_save
from .models import MODELS, get_model_spec
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from .runs import RESUMABLE, Run, RunError, RunStore, claim

Event = dict[str, Any]
AMP = ("off", "bf16", "fp16")
SAMPLE_COUNT = 32  # test images whose predictions every epoch event carries, for a live gallery
SMALL_BATCH = 32  # below this, a CPU step is dominated by per-op overhead and threads only add contention


@dataclass
class TrainConfig:
    data: str = "synthetic"          # "cifar10", "synthetic" or an ImageFolder path
    data_dir: str = "data"
    model: str = "tutorial"
    preset: str = ""
    device: str = "auto"
    epochs: int = 2
    batch_size: int = 4
    optimizer: str = "sgd"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    flip: bool = False               # augmentation: random horizontal flip
    crop_pad: int = 0                # augmentation: pad by this many pixels, crop back to 32×32 at random
    tta: bool = False                # test-time augmentation: average with the flipped image
    amp: str = "off"                 # autocast dtype on CUDA: bf16 / fp16
    channels_last: bool = False
    mean: tuple[float, ...] = SEED_MEAN
    std: tuple[float, ...] = SEED_STD
    seed: int = 0

    def problems(self) -> list[str]:
        """Every invalid value, as sentences a form or the CLI can show."""
        p = []
        if self.model not in MODELS:
            p.append(f"Model must be one of {', '.join(MODELS)}.")
        if self.epochs < 1:
            p.append("Epochs must be at least 1.")
        if self.batch_size < 1:
            p.append("Batch size must be at least 1.")
        if not self.lr > 0 or not math.isfinite(self.lr):
            p.append("Learning rate must be a positive number.")
        if not 0 <= self.momentum < 1:
            p.append("Momentum must be in [0, 1).")
        if self.weight_decay < 0:
            p.append("Weight decay must be ≥ 0.")
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


PRESETS: dict[str, Preset] = {
    "tutorial": Preset("The tutorial's recipe exactly: Net, batch 4, SGD lr 0.001 momentum 0.9, 2 epochs.",
                       dict(model="tutorial", epochs=2, batch_size=4, optimizer="sgd", lr=0.001, momentum=0.9,
                            weight_decay=0.0, schedule="constant", label_smoothing=0.0, flip=False, crop_pad=0,
                            tta=False, amp="off", channels_last=False)),
    "fast-cpu": Preset("Small ResNet-9 with batch-norm, flip + translate, label smoothing, nesterov SGD "
                       "with one-cycle, batch 256, flip TTA: fast accuracy on a laptop CPU.",
                       dict(model="resnet9-mini", epochs=10, batch_size=256, optimizer="nesterov", lr=0.2,
                            momentum=0.9, weight_decay=5e-4, schedule="onecycle", label_smoothing=0.1,
                            flip=True, crop_pad=2, tta=True, amp="off", channels_last=True)),
    "fast-gpu": Preset("ResNet-9 on CUDA with bf16 autocast, channels-last, batch 512, one-cycle nesterov SGD.",
                       dict(model="resnet9", epochs=10, batch_size=512, optimizer="nesterov", lr=0.4,
                            momentum=0.9, weight_decay=5e-4, schedule="onecycle", label_smoothing=0.2,
                            flip=True, crop_pad=4, tta=True, amp="bf16", channels_last=True)),
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
    parts = ["python -m core.train", f"--data {shlex.quote(cfg.data)}"]
    if cfg.preset:
        parts.append(f"--preset {cfg.preset}")
    for f in fields(TrainConfig):
        if f.name in ("data", "preset", "mean", "std"):
            continue
        value, default = getattr(cfg, f.name), getattr(base, f.name)
        if value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        parts.append((flag if value else f"--no-{flag[2:]}") if isinstance(value, bool)
                     else f"{flag} {shlex.quote(str(value))}")
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
    atomic_torch_save({"model": state, "optimizer": opt.state_dict(),
                       "scheduler": sched.state_dict() if sched else None,
                       "epoch": epoch, "step": step, "classes": classes}, run.checkpoint_path)
    atomic_torch_save(state, run.model_path)


def train(cfg: TrainConfig, run: Run, on_event: Callable[[Event], None] | None = None,
          control: Control | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train `cfg` into `run`, resuming from its checkpoint if it has one. Returns the final summary.

    Never raises for what can go wrong inside a run (bad data, NaN loss, a stop): the summary says
    `failed` / `stopped` with a reason. Bad configs and devices are the caller's to check first."""
    control = control or Control(run.path / "control")
    summary = run.summary()
    summary.update(status="running", model=cfg.model, preset=cfg.preset, data=cfg.data, **claim())
    started = time.monotonic()
    train_seconds = float(summary.get("train_seconds", 0.0))

    def emit(ev: Event) -> None:
        ev["time"] = time.time()
        run.append(ev)
        if on_event:
            on_event(ev)

    def finish(status: str, reason: str = "") -> dict[str, Any]:
        summary.update(status=status, reason=reason, finished=time.time(), train_seconds=round(train_seconds, 3))
        run.write_summary(summary)
        emit({"type": "end", "status": status, "reason": reason})
        run.close()
        return summary

    try:
        device = resolve_device(cfg.device)
        summary["device"] = str(device)
        run.write_summary(summary)
        if device.type == "cpu":  # small batches: one thread, as splitting tiny ops costs more than it saves
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            torch.set_num_threads(1 if cfg.batch_size < SMALL_BATCH else cores)
        last_data_event = [0.0]

        def data_progress(stage: str, done: int, total: int) -> None:  # at most 4 events a second
            if done >= total or time.monotonic() - last_data_event[0] > 0.25:
                last_data_event[0] = time.monotonic()
                emit({"type": "data", "stage": stage, "done": done, "total": total})

        ds = (dataset or load_dataset(cfg.data, cfg.data_dir, data_progress)).to(device)
        if cfg.batch_size > len(ds.train_y):
            raise DataError(f"batch size {cfg.batch_size} is larger than the {len(ds.train_y)} training images.")
        spec = get_model_spec(cfg.model)
        torch.manual_seed(cfg.seed)
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        model = spec.build(ds.num_classes).to(device, memory_format=fmt)
        steps_per_epoch = math.ceil(len(ds.train_y) / cfg.batch_size)  # the last, smaller batch is kept
        opt = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay)
        sched = make_schedule(opt, cfg.schedule, cfg.epochs * steps_per_epoch)
        criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
        autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype and device.type == "cuda" \
            else nullcontext
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and device.type == "cuda")
        summary.update(classes=ds.classes, parameters=sum(p.numel() for p in model.parameters()),
                       epochs=cfg.epochs, dataset=ds.describe())
        epoch0, step0 = 0, 0
        if run.checkpoint_path.exists():
            ck = torch.load(run.checkpoint_path, map_location=device, weights_only=True)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            if sched and ck["scheduler"]:
                sched.load_state_dict(ck["scheduler"])
            epoch0, step0 = ck["epoch"], ck["step"]
            emit({"type": "resume", "epoch": epoch0, "step": step0, "global_step": epoch0 * steps_per_epoch + step0})
        else:
            emit({"type": "start", "dataset": ds.describe(), "classes": ds.classes, "device": str(device),
                  "parameters": summary["parameters"], "steps_per_epoch": steps_per_epoch, "epochs": cfg.epochs,
                  "skipped_files": len(ds.skipped)})
        run.write_summary(summary)
        sample_idx = torch.linspace(0, len(ds.test_y) - 1, min(SAMPLE_COUNT, len(ds.test_y))).long()
        sample_true = ds.test_y[sample_idx.to(device)].tolist()
        if not run.samples_path.exists():
            atomic_torch_save({"images": ds.test_x[sample_idx.to(device)].cpu(), "labels": sample_true,
                               "classes": ds.classes}, run.samples_path)
        window_t, window_n, images_per_s = time.monotonic(), 0, 0.0
        images_seen, seconds0 = 0, train_seconds  # this session's throughput, for the summary

        def pause_event(status: str) -> Callable[[], None]:
            def f() -> None:
                summary["status"] = status
                run.write_summary(summary)
                emit({"type": status})
            return f

        on_pause, on_resume = pause_event("paused"), pause_event("running")
        for epoch in range(epoch0, cfg.epochs):
            model.train()
            g = torch.Generator(device).manual_seed(cfg.seed * 1_000_003 + epoch)  # same order on resume
            perm = torch.randperm(len(ds.train_y), device=device, generator=g)
            loss_sum, loss_n = 0.0, 0
            for step in range(step0 if epoch == epoch0 else 0, steps_per_epoch):
                control.poll()
                t_pause = time.monotonic()
                control.wait_while_paused(on_pause, on_resume)
                started += time.monotonic() - t_pause  # paused time is not training time
                if control.stopping:
                    train_seconds += time.monotonic() - started
                    _checkpoint(run, model, opt, sched, epoch, step, ds.classes)
                    emit({"type": "checkpoint", "epoch": epoch, "step": step})
                    raise Stopped
                idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                x = to_model_input(ds.train_x[idx], spec.in_channels, cfg.mean, cfg.std)
                x = augment(x, cfg.flip, cfg.crop_pad, g).contiguous(memory_format=fmt)
                with autocast():
                    loss = criterion(model(x), ds.train_y[idx])
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                lr = opt.param_groups[0]["lr"]
                if sched:
                    sched.step()
                value = loss.item()
                if not math.isfinite(value):
                    raise Diverged(f"the loss became {value} at epoch {epoch + 1}, step {step + 1}: training "
                                   f"diverged. Lower the learning rate (now {cfg.lr:g}), e.g. to {cfg.lr / 10:g}"
                                   + (", or add a schedule with warm-up (onecycle)" if cfg.schedule == "constant"
                                      else "") + ".")
                loss_sum, loss_n = loss_sum + value * len(idx), loss_n + len(idx)
                window_n += len(idx)
                images_seen += len(idx)
                now = time.monotonic()
                if now - window_t >= 0.5:
                    images_per_s, window_t, window_n = window_n / (now - window_t), now, 0
                emit({"type": "step", "epoch": epoch, "step": step, "global_step": epoch * steps_per_epoch + step,
                      "loss": value, "lr": lr, "images_per_s": round(images_per_s, 1)})
            train_seconds += time.monotonic() - started
            report = evaluate(model, ds.test_x, ds.test_y, ds.classes, spec.in_channels, cfg.mean, cfg.std,
                              tta=cfg.tta, memory_format=fmt)
            started = time.monotonic()
            _checkpoint(run, model, opt, sched, epoch + 1, 0, ds.classes)
            summary.update(test_accuracy=report.accuracy, per_class_accuracy=report.per_class_accuracy(),
                           best_accuracy=max(report.accuracy, summary.get("best_accuracy", 0.0)),
                           epochs_completed=epoch + 1, train_seconds=round(train_seconds, 3),
                           images_per_s=round(images_seen / max(train_seconds - seconds0, 1e-9), 1))
            run.write_summary(summary)
            emit({"type": "epoch", "epoch": epoch + 1, "train_loss": loss_sum / max(loss_n, 1),
                  "test_loss": report.loss, "test_accuracy": report.accuracy, "train_seconds": train_seconds,
                  "per_class_accuracy": report.per_class_accuracy(),
                  "samples": {"index": sample_idx.tolist(), "true": sample_true,
                              "predicted": report.predictions[sample_idx].tolist()}})
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


# --- CLI ---------------------------------------------------------------------------------------------

class ProgressLine:
    """One self-rewriting line on stderr: epoch, step, loss, images/s, ETA."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.last, self.t0, self.steps_per_epoch, self.epochs = stream, 0.0, time.monotonic(), 1, 1
        self.first_step = None

    def __call__(self, ev: Event) -> None:
        kind = ev["type"]
        if kind in ("start", "resume"):
            self.steps_per_epoch = ev.get("steps_per_epoch", self.steps_per_epoch)
            self.epochs = ev.get("epochs", self.epochs)
        elif kind == "step":
            now = time.monotonic()
            if self.first_step is None:
                self.first_step, self.t0 = ev["global_step"], now
            if now - self.last < 0.2:
                return
            self.last = now
            total = self.steps_per_epoch * self.epochs
            done = ev["global_step"] + 1
            rate = (done - self.first_step) / max(now - self.t0, 1e-9)
            eta = (total - done) / rate if rate > 0 else 0
            bar = "#" * int(30 * done / total)
            self.stream.write(f"\repoch {ev['epoch'] + 1}/{self.epochs} [{bar:<30}] step {ev['step'] + 1}/"
                              f"{self.steps_per_epoch} loss {ev['loss']:.3f} {ev['images_per_s']:.0f} img/s "
                              f"ETA {eta:.0f}s ")
            self.stream.flush()
        elif kind == "epoch":
            self.stream.write(f"\repoch {ev['epoch']}: train loss {ev['train_loss']:.3f}, test accuracy "
                              f"{ev['test_accuracy']:.2%}" + " " * 40 + "\n")
        elif kind == "data" and ev["total"]:
            self.stream.write(f"\r{ev['stage']}: {ev['done']:,}/{ev['total']:,}   ")
        elif kind == "paused":
            self.stream.write("\npaused\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.train", description="Train a CIFAR-10-style classifier "
                                "into a run folder. Values: defaults < --preset < explicit flags.")
    p.add_argument("--data", help="cifar10 | synthetic | PATH to an ImageFolder-layout folder (train/, test/)")
    p.add_argument("--data-dir", default=None, help="where CIFAR-10 and decoded caches live (default ./data)")
    p.add_argument("--model", choices=list(MODELS))
    p.add_argument("--preset", choices=list(PRESETS))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd (with --momentum > 0: SGD+momentum), nesterov, "
                   "adam, adamw")
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
    p.add_argument("--resume", metavar="RUN_ID", help="continue a stopped or interrupted run from its checkpoint")
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # train into a run folder the app prepared
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    store = RunStore(args.runs_dir)
    if args.resume or args.run_id:
        try:
            run = store.open(args.resume or args.run_id)
        except RunError as e:
            p.error(str(e))
        if args.resume and run.status not in RESUMABLE:
            p.error(f"run {run.id} is {run.status}; only stopped, interrupted or failed runs can resume.")
        cfg = TrainConfig(**{**run.config(), **({"device": args.device} if args.device else {})})
    else:
        if not args.data:
            p.error("--data is required (cifar10, synthetic or a folder path)")
        overrides = {k: v for k, v in vars(args).items()
                     if k not in ("preset", "runs_dir", "name", "resume", "quiet")}
        try:
            cfg = make_config(args.preset, **overrides)
        except ValueError as e:
            p.error(str(e))
    if problems := cfg.problems():
        p.error(" ".join(problems))
    try:
        resolve_device(cfg.device)
    except DeviceError as e:
        p.error(str(e))
    if not (args.resume or args.run_id):
        run = store.create(asdict(cfg), args.name)
    if args.resume:
        (run.path / "control").unlink(missing_ok=True)  # the "stop" that ended the last session must not replay
    print(f"run folder: {run.path}", flush=True)
    control = Control(run.path / "control")
    stop_once = lambda *_: (control.stop(), signal.signal(signal.SIGINT, signal.default_int_handler))
    signal.signal(signal.SIGINT, stop_once)  # first Ctrl-C: stop cleanly with a checkpoint
    summary = train(cfg, run, on_event=None if args.quiet else ProgressLine(), control=control)
    sys.stderr.write("\n")
    print(f"status: {summary['status']}" + (f" ({summary['reason']})" if summary.get("reason") else ""))
    if "test_accuracy" in summary:
        print(f"test accuracy: {summary['test_accuracy']:.2%} after {summary.get('epochs_completed', 0)} epoch(s), "
              f"{summary['train_seconds']:.1f} s of training on {summary['device']}")
    print(f"run folder: {run.path}")
    return 0 if summary["status"] in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
