"""Training jobs for the app: each run trains in its own `python -m core.train` process.

Why a subprocess and not a thread in the Streamlit server: the training loop then has its own
interpreter (no GIL shared with page reruns), it survives a page refresh, a second tab or a Streamlit
script error, and every tab sees the same job because all state is in the run folder (metrics.jsonl,
summary.json) rather than in one server's memory. Commands go through the run folder's `control` file.
See docs/TRAINING_JOBS.md.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from . import forks
from .config import TrainConfig
from .control import COMMANDS, set_command, write_command
from .devices import DDP_DEVICE, DeviceError, resolve_device
from .files import DiskFull, disk_full
from .messages import N_, Phrase
from .optim import hyperparameter_problems
from .recorder import EXITED, reason_fields
from .runs import ACTIVE, RESUMABLE, Run, RunError, RunStore, claim, pid_alive
from .validate import checkpoint_problem, run_problems, space_problem

ROOT = Path(__file__).resolve().parents[1]
# run id → the process this server started (forked by the starter, or through torchrun), reaped on poll
_children: dict[str, subprocess.Popen | forks.Job] = {}


class DeviceBusy(RunError):
    """One job per device: the message names the run that holds it."""

    def __init__(self, run: Run, device: str):
        super().__init__(
            N_("{device} is busy with run {run} ({status}). Stop it or wait for it to finish."),
            device=device,
            run=run.id,
            status=run.status,
        )
        self.run, self.device = run, device


@contextmanager
def _store_lock(store: RunStore):
    """Two tabs pressing Start at once must not both get the device."""
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        f = open(store.root / ".jobs.lock", "w")
    except OSError as e:
        if disk_full(e):
            raise DiskFull(store.root / ".jobs.lock") from e
        raise
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def reap(store: RunStore) -> None:
    """Collect finished children (so none lingers as a zombie), and forget them; one that died before
    claiming its run marks the run failed, with its log. Called wherever liveness is checked."""
    for run_id, proc in list(_children.items()):
        if proc.poll() is None:
            continue
        _children.pop(run_id, None)  # another page's rerun may have reaped it meanwhile
        try:
            run = store.open(run_id)
        except RunError:
            continue
        summary = run.summary()
        if summary.get("status") in ACTIVE and summary.get("pid") == os.getpid():
            reason = Phrase(EXITED, code=proc.returncode, tail=log_tail(run, 3))
            try:
                run.write_summary({**summary, "status": "failed", **reason_fields(reason)})
            except OSError:  # a full disk: the run then reads as interrupted, its log says why
                pass


def log_tail(run: Run, lines: int = 20) -> str:
    try:
        return "\n".join(run.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def active_runs(store: RunStore) -> list[Run]:
    reap(store)
    return [r for r in store.list() if r.status in ACTIVE]


def run_device(run: Run) -> str:
    return str(run.summary().get("device") or run.config().get("device"))


def busy_run(store: RunStore, device: str) -> Run | None:
    return next((r for r in active_runs(store) if run_device(r) == device), None)


def ddp_processes() -> int:
    """How many processes a DDP job starts here: one per GPU."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def train_command(run: Run, store: RunStore, processes: int = 1) -> list[str]:
    """`--run-id` trains into the prepared folder, continuing from its checkpoint when it has one;
    with several processes, through torchrun (one DDP rank each, on this machine)."""
    args = ["-m", "core.train", "--runs-dir", str(store.root.resolve()), "--quiet", "--run-id", run.id]
    if processes > 1:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            *args,
        ]
    return [sys.executable, *args]


def _spawn(run: Run, store: RunStore, processes: int = 1) -> None:
    args = train_command(run, store, processes)
    run.control_path.unlink(missing_ok=True)  # an old "stop" must not replay; a new one may come at once
    # The job inherits the app's environment as it is, as a run typed in a terminal does. Its OpenMP
    # threads then wait as libgomp does by default (spin briefly, then sleep). OMP_WAIT_POLICY=PASSIVE,
    # which jobs once got so as to leave the cores to the page, trained 9-26 % slower unwatched and 16-33 %
    # slower watched (docs/BENCHMARKS.md, issue 25).
    if processes == 1:  # forked from the warm starter (core/forks.py), which has done torch's imports
        _children[run.id] = forks.launch(args, run.log_path)
    else:
        _children[run.id] = forks.fresh(args, run.log_path)


def warm() -> None:
    """Get the warm starter ready before the first Start (its imports take a few seconds)."""
    forks.warm()


def start(cfg: TrainConfig, store: RunStore, name: str | None = None, processes: int | None = None) -> Run:
    """Create a run for `cfg` on its (resolved) device and start training it in the background.

    Device "ddp" trains on every GPU through torchrun (`processes` overrides the GPU count)."""
    if problems := run_problems(cfg):
        raise next(iter(problems.values()))
    if cfg.device == DDP_DEVICE:
        processes = processes or ddp_processes()
        if processes < 2:
            raise DeviceError(
                "DDP needs at least 2 GPUs; this machine has "
                f"{ddp_processes()}. Pick a single device instead."
            )
        device = DDP_DEVICE
    else:
        device, processes = str(resolve_device(cfg.device)), 1
    with _store_lock(store):
        if holder := busy_run(store, device):
            raise DeviceBusy(holder, device)
        if (problem := space_problem(cfg, store.root)) is not None:  # before any folder exists
            raise problem
        run = store.create({**asdict(cfg), "device": device}, name)
        run.write_summary({**run.summary(), "device": device, "processes": processes})
    _spawn(run, store, processes)
    return run


def resume(run: Run, store: RunStore) -> None:
    """Continue a stopped, interrupted or failed run from its last checkpoint."""
    if (problem := resume_problem(run)) is not None:
        raise problem
    device = run_device(run)
    with _store_lock(store):
        if holder := busy_run(store, device):
            raise DeviceBusy(holder, device)
        if (problem := resume_problem(run)) is not None:  # another tab resumed or deleted it meanwhile
            raise problem
        # until the child claims the run with its own pid, this process owns it (so it is not "interrupted")
        run.write_summary({**run.summary(), "status": "running", **reason_fields(""), **claim()})
    _spawn(run, store, int(run.summary().get("processes", 1)))


def resume_problem(run: Run) -> RunError | None:
    """Why `run` cannot resume now (its state, or an unusable config or checkpoint), or None."""
    status = run.status
    if status not in RESUMABLE:
        return RunError(
            N_("Run {run} is {status}; only stopped, interrupted or failed runs can resume."),
            run=run.id,
            status=status,
        )
    problem = checkpoint_problem(run)
    if problem is not None:
        return RunError(problem.template, **problem.values)
    return None


def send(run: Run, command: str) -> None:
    """Ask a running job to pause, resume or stop; it acts within about half a second."""
    if command not in COMMANDS:
        raise ValueError(f"Unknown command '{command}'. Use one of {', '.join(COMMANDS)}.")
    write_command(run.control_path, command)


def end_process(run: Run) -> bool:
    """End a stalled job's process (SIGTERM), which no longer reads its control file; the run becomes
    `interrupted` and can resume from its last checkpoint. False when it is not a live job of this host."""
    s = run.summary()
    pid = s.get("pid")
    if (
        s.get("host") != socket.gethostname()
        or not pid_alive(pid, s.get("pid_started"))
        or pid == os.getpid()
    ):
        return False
    os.kill(pid, signal.SIGTERM)
    return True


def retune(run: Run, values: dict[str, float]) -> None:
    """Change a running or paused job's lr / momentum / weight decay. The job applies them before its next
    step (a paused one within a second), saves a checkpoint and records a `hyperparameters` event; under a
    schedule the new lr scales the rest of it. Raises RunError with the reason when it cannot."""
    status = run.status
    if status not in ACTIVE:
        raise RunError(
            N_("Run {run} is {status}; only a running or paused run can change its learning rate."),
            run=run.id,
            status=status,
        )
    if int(run.summary().get("processes", 1)) > 1:
        raise RunError(
            N_("Run {run} trains on several processes (DDP): its learning rate cannot change."), run=run.id
        )
    if problems := hyperparameter_problems(values, str(run.config().get("optimizer", ""))):
        raise RunError(problems[0].template, **problems[0].values)
    write_command(run.control_path, set_command(values))
