"""The run store: one folder per training run under a runs directory.

runs/<run-id>/config.json     the TrainConfig, as JSON
             /metrics.jsonl   append-only, one JSON event per line
             /checkpoint.pt   state_dict + optimizer/scheduler/position, to resume
             /model.pth       the bare state_dict, for the tutorial's `net.load_state_dict(torch.load(PATH))`
             /summary.json    status and headline numbers
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from .files import atomic_write_json

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ACTIVE = ("running", "paused")
RESUMABLE = ("stopped", "interrupted", "failed")
STATUSES = ("running", "paused", "completed", "stopped", "failed", "interrupted")


class RunError(ValueError):
    """A run id that is malformed, escapes the runs directory, or names no run."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Run:
    def __init__(self, path: Path):
        self.path = path
        self._metrics_file = None

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def model_path(self) -> Path:
        return self.path / "model.pth"

    @property
    def samples_path(self) -> Path:  # a few fixed test images, for a live prediction gallery
        return self.path / "samples.pt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def control_path(self) -> Path:  # "pause" / "resume" / "stop" for the training process (core/control.py)
        return self.path / "control"

    @property
    def log_path(self) -> Path:  # the training process's output, and the traceback of an unexpected failure
        return self.path / "train.log"

    def config(self) -> dict[str, Any]:
        return json.loads((self.path / "config.json").read_text())

    def summary(self) -> dict[str, Any]:
        """The summary, with a run whose process is gone reported as `interrupted`."""
        try:
            s = json.loads((self.path / "summary.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            s = {"status": "interrupted"}
        if (
            s.get("status") in ACTIVE
            and s.get("host") == socket.gethostname()
            and not _pid_alive(s.get("pid", -1))
        ):
            s["status"] = "interrupted"
        return s

    @property
    def status(self) -> str:
        return self.summary().get("status", "interrupted")

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(summary, self.path / "summary.json")

    def append(self, event: dict[str, Any]) -> None:
        """One event, one line, flushed so a reader in another process sees it at once."""
        if self._metrics_file is None:
            self._metrics_file = open(self.metrics_path, "a", buffering=1)
        self._metrics_file.write(json.dumps(event) + "\n")

    def close(self) -> None:
        if self._metrics_file is not None:
            self._metrics_file.close()
            self._metrics_file = None

    def events(self) -> list[dict[str, Any]]:
        return EventLog(self.metrics_path).refresh()


class EventLog:
    """Reads metrics.jsonl incrementally: each refresh parses only the lines appended since the last.

    After a `resume` event, step events past the resume point are dropped, so curves show each global
    step once; an incomplete last line (being written, or torn by a crash) waits for the next refresh."""

    def __init__(self, path: Path):
        self.path, self.offset, self.events = path, 0, []

    def refresh(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return self.events
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for line in chunk[:end].splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if ev.get("type") == "resume":
                cut, epoch = ev.get("global_step", 0), ev.get("epoch", 0)
                self.events = [
                    e
                    for e in self.events
                    if not (e.get("type") == "step" and e.get("global_step", 0) >= cut)
                    and not (e.get("type") == "epoch" and e.get("epoch", 0) > epoch)
                ]
            self.events.append(ev)
        return self.events


class RunStore:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def _path(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise RunError(f"'{run_id}' is not a valid run id (letters, digits, '.', '_' and '-' only).")
        path = (self.root / run_id).resolve()
        if path.parent != self.root.resolve():
            raise RunError(f"'{run_id}' is not inside {self.root}.")
        return path

    def create(self, config: dict[str, Any], name: str | None = None) -> Run:
        """A new run folder with its config and a `running` summary owned by this process."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        label = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or config.get("model", "run")).strip("-.")[:40] or "run"
        run_id = f"{stamp}-{label}-{secrets.token_hex(2)}"
        path = self._path(run_id)
        path.mkdir(parents=True)
        run = Run(path)
        atomic_write_json(config, path / "config.json")
        run.write_summary({"status": "running", "name": name or "", "created": time.time(), **claim()})
        return run

    def open(self, run_id: str) -> Run:
        path = self._path(run_id)
        if not (path / "config.json").is_file():
            raise RunError(f"No run '{run_id}' in {self.root}.")
        return Run(path)

    def list(self) -> list[Run]:
        """Every run, newest first."""
        if not self.root.is_dir():
            return []
        runs = [Run(p) for p in self.root.iterdir() if p.is_dir() and (p / "config.json").is_file()]
        return sorted(runs, key=lambda r: r.id, reverse=True)

    def delete(self, run_id: str) -> None:
        run = self.open(run_id)
        if run.status in ACTIVE:
            raise RunError(f"Run '{run_id}' is still {run.status}; stop it before deleting it.")
        shutil.rmtree(run.path)


def claim() -> dict[str, Any]:
    """What marks a run as owned by this live process (a dead owner means `interrupted`)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def run_row(run: Run) -> dict[str, Any]:
    """One line of a runs table: what a person scans to pick a run."""
    s, c = run.summary(), run.config()
    acc = s.get("best_accuracy")
    return {
        "run": run.id,
        "status": s.get("status"),
        "model": c.get("model"),
        "preset": c.get("preset") or "custom",
        "data": Path(str(c.get("data", ""))).name or c.get("data"),
        "device": s.get("device", c.get("device")),
        "epochs": f"{s.get('epochs_completed', 0)}/{c.get('epochs')}",
        "best accuracy": None if acc is None else round(100 * acc, 2),
        "train s": s.get("train_seconds"),
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(s["created"])) if "created" in s else "",
    }
