"""`python -m core.train`: train from a terminal, with a progress line (or the tutorial's console lines,
`--progress`); also how the app starts its jobs. The loop itself is core/trainer.py.

    python -m core.train --data cifar10 --preset tutorial
    torchrun --standalone --nproc_per_node=2 -m core.train --data cifar10 --preset fast-gpu --device ddp

The flags are generated from TrainConfig (core/config.py). A command line that cannot start a run exits
with status 2 and one line, before any run folder exists. Ctrl-C stops cleanly with a checkpoint.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import torch

from . import jobs
from .config import TrainConfig, config_from_args, from_dict, parser
from .console import Console
from .control import Control
from .devices import DDP_DEVICE, DeviceError
from .distributed import Rank, broadcast, from_env, init, shutdown
from .files import DiskFull
from .messages import N_
from .recorder import Event
from .runs import Run, RunError, RunStore, eta_seconds
from .trainer import train
from .validate import checkpoint_problem, run_problems, space_problem


class ProgressLine:
    """One self-rewriting line on stderr: epoch, step, loss, images/s, ETA."""

    def __init__(self, stream: TextIO = sys.stderr):
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
            done = ev["global_step"] + 1
            eta = eta_seconds(done, self.total, (done - self.first_step) / max(now - self.t0, 1e-9)) or 0
            bar = "#" * int(30 * done / self.total)
            self.stream.write(
                f"\repoch {ev['epoch'] + 1}/{self.epochs:g} [{bar:<30}] step {ev['step'] + 1}/"
                f"{self.steps_per_epoch} loss {ev['loss']:.3f} {ev['images_per_s']:.0f} img/s ETA {eta:.0f}s "
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


class ConsolePrinter:
    """The tutorial's console (core/console.py) on stdout as the run makes it: loss lines, then
    `Finished Training` and the test accuracy; loading progress and pauses as the progress line shows them."""

    def __init__(self, batch_size: int, stream: TextIO | None = None, bar: ProgressLine | None = None):
        self.console, self.bar = Console(batch_size), bar or ProgressLine()
        self.stream = stream or sys.stdout  # the stdout of now, not of import time (tests capture it)
        self.bar_open = False  # the progress line was written without a newline

    def __call__(self, ev: Event) -> None:
        if ev["type"] in ("data", "paused"):
            self.bar(ev)
            self.bar_open = ev["type"] == "data"
        lines = self.console.add(ev)
        if lines and self.bar_open:
            self.bar.stream.write("\n")
            self.bar_open = False
        for line in lines:
            print(line, file=self.stream, flush=True)


PROGRESS = ("auto", "bar", "console")


def progress_printer(choice: str, cfg: TrainConfig) -> ProgressLine | ConsolePrinter:
    """`--progress`: auto is the tutorial's console for the tutorial preset, the progress line otherwise."""
    if choice == "console" or (choice == "auto" and cfg.preset == "tutorial"):
        return ConsolePrinter(cfg.batch_size)
    return ProgressLine()


class UsageError(Exception):
    """A command line that cannot start a run; the CLI prints it and exits with status 2."""


class RankUsageError(UsageError):
    """One found by every rank before they join: each prints it, since torchrun ends the others (SIGTERM)
    as soon as the first exits, and that may be before rank 0 has said why."""


class Terminated(Exception):
    pass


def _terminated(signum, frame) -> None:
    raise Terminated(
        "torchrun ended this process (another rank failed, or the job was cancelled); see torchrun's output"
    )


def prepare_run(args: argparse.Namespace, store: RunStore) -> tuple[TrainConfig, Run]:
    """The config and run folder the command line asks for: a new run, or one to resume / train into.

    Everything is checked (core.validate) before a new folder is created or a run is touched."""
    distributed = from_env().distributed
    if args.resume or args.run_id:
        flag = "--resume" if args.resume else "--run-id"
        try:
            run = store.open(args.resume or args.run_id)
            if (problem := run.config_problem()) is not None:  # `{}`, unknown keys, bad values
                raise RunError(
                    N_("The config of run {run} is damaged, so it cannot resume: {problem}"),
                    run=run.id,
                    problem=problem,
                )
            cfg = from_dict({**run.config(), **({"device": args.device} if args.device else {})})
        except (RunError, TypeError) as e:
            raise UsageError(f"{flag}: {e}") from None
        # --resume: the run must be resumable; --run-id (a folder the app prepared): its checkpoint fits
        problem = jobs.resume_problem(run) if args.resume else checkpoint_problem(run)
        if problem is not None:
            raise UsageError(f"{flag}: {problem}")
    else:
        if not args.data:
            raise UsageError("--data is required (cifar10, synthetic or a folder path)")
        cfg = config_from_args(args)
    if not distributed and cfg.device == DDP_DEVICE:
        raise UsageError(
            "--device ddp runs one process per GPU; start it with torchrun: "
            "torchrun --nproc_per_node=N -m core.train …"
        )
    if problems := run_problems(cfg, check_device=not distributed):
        name, problem = next(iter(problems.items()))
        raise UsageError(f"--{name.replace('_', '-')}: {problem}")
    if not (args.resume or args.run_id):
        if (problem := space_problem(cfg, store.root)) is not None:  # before any folder exists
            raise UsageError(f"--runs-dir: {problem}")
        try:
            run = store.create(asdict(cfg), args.name)
        except (RunError, DiskFull, OSError) as e:
            raise UsageError(f"--runs-dir: {e}") from None
    if args.resume:
        run.control_path.unlink(missing_ok=True)  # the "stop" that ended the last session must not replay
    return cfg, run


def _join(args: argparse.Namespace, store: RunStore, rank: Rank) -> tuple[TrainConfig, Run, torch.device]:
    """Under torchrun: join the group, then rank 0 prepares the run and tells the others."""
    try:
        device = init(rank, args.device or "auto")
    except DeviceError as e:
        raise RankUsageError(f"--device: {e}") from None
    payload = None
    if rank.main:
        try:
            cfg, run = prepare_run(args, store)
            payload = {"config": asdict(cfg), "path": str(run.path)}
        except UsageError as e:
            payload = {"error": str(e)}
    payload = broadcast(payload, rank)
    if "error" in payload:
        shutdown()
        raise UsageError(payload["error"])
    return from_dict(payload["config"]), run if rank.main else Run(Path(payload["path"])), device


def main(argv: list[str] | None = None) -> int:
    torch.set_flush_denormal(
        True
    )  # before any parallel op, so every OpenMP thread starts with it (see train)
    p = parser()
    p.add_argument(
        "--progress",
        choices=PROGRESS,
        default="auto",
        help="what the terminal shows while training: bar (one self-rewriting line: epoch, loss, images/s, "
        "ETA), console (the tutorial's lines: the loss every 2,000 mini-batches of 4 or ~8,000 images, "
        "then the test accuracy overall and per class), auto (default: console for --preset tutorial, bar "
        "otherwise)",
    )
    args = p.parse_args(argv)
    store = RunStore(args.runs_dir)
    rank = from_env()
    try:
        cfg, run, device = _join(args, store, rank) if rank.distributed else (*prepare_run(args, store), None)
    except UsageError as e:
        if rank.main or isinstance(e, RankUsageError):
            p.error(str(e))
        return 2
    if rank.main:
        print(f"run folder: {run.path}", flush=True)
    if rank.distributed:  # torchrun ends the other ranks with SIGTERM when one fails: record it, don't vanish
        signal.signal(signal.SIGTERM, _terminated)
    control = Control(run.control_path if rank.main else None)
    stop_once = lambda *_: (control.stop(), signal.signal(signal.SIGINT, signal.default_int_handler))
    signal.signal(signal.SIGINT, stop_once)  # first Ctrl-C: stop cleanly with a checkpoint
    progress = progress_printer(args.progress, cfg) if rank.main and not args.quiet else None
    try:
        summary = train(
            cfg, run, on_event=progress, control=control, rank=rank, device=device, threads=args.threads
        )
    except Exception:  # a bug: train() wrote its traceback to train.log and the run says failed
        summary = run.summary() if rank.main else {"status": "failed"}
    finally:
        shutdown()
    if rank.main:
        _report(summary, run, rank, device)
    return 0 if summary["status"] in ("completed", "stopped") else 1


def _report(summary: dict, run: Run, rank: Rank, device: torch.device | None) -> None:
    sys.stderr.write("\n")
    print(f"status: {summary['status']}" + (f" ({summary['reason']})" if summary.get("reason") else ""))
    if "test_accuracy" in summary:
        where = f" ({rank.world} processes, {device.type})" if rank.distributed else ""
        print(
            f"test accuracy: {summary['test_accuracy']:.2%} after {summary.get('epochs_completed', 0)} "
            f"epoch(s), {summary['train_seconds']:.1f} s of training on {summary['device']}{where}"
        )
    print(f"run folder: {run.path}")


if __name__ == "__main__":
    sys.exit(main())
