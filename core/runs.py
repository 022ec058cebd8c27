"""The run store: one folder per training run under a runs directory.

runs/<run-id>/config.json     the TrainConfig, as JSON
             /metrics.jsonl   append-only, one JSON event per line
             /checkpoint.pt   state_dict + optimizer/scheduler/position, to resume
             /model.pth       the bare state_dict, for the tutorial's `net.load_state_dict(torch.load(PATH))`
             /samples.pt      a few fixed test images, for a live prediction gallery
             /summary.json    status and headline numbers

Reading a run never raises to a page: anything on disk may have been truncated, overwritten or deleted by
hand, so every read checks what it got and a run with an unreadable file reports it in `problems()` (and
is listed as `damaged`) while its other files stay usable. Liveness comes from the process table, not from
what the summary claims: a dead, zombie or recycled pid means `interrupted`, and a live job that has gone
quiet for far longer than usual is `stalled`.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from .files import DiskFull, atomic_write_json, disk_full
from .messages import N_, MessageError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ACTIVE = ("running", "paused", "stalled")
RESUMABLE = ("stopped", "interrupted", "failed")
STATUSES = ("running", "paused", "stalled", "completed", "stopped", "failed", "interrupted", "damaged")
# `stalled`: a live job with no event for STALL_FACTOR × its usual gap between events (and at least
# STALL_MIN_SECONDS, which covers a first test-set evaluation or a slow data load)
STALL_FACTOR = 20
STALL_MIN_SECONDS = 60.0
_TAIL_BYTES = 16_384  # how much of metrics.jsonl the usual gap between events is measured on
# config.json keys without which it is not a run's config (`{}` parses, but describes no run); the other
# fields may be missing (older runs, hand-written folders) and take their defaults
REQUIRED_CONFIG = ("data", "model")
# a line the job writes to train.log when it cannot write its summary (a full disk): the app reads it back
END_MARK = "blitzlab-end "


def eta_seconds(done: int, total: int, rate: float) -> float | None:
    """Seconds left at `rate` steps per second (None until there is a rate). Here, not in core.curves, so
    that a training process (core.train's progress line) need not import pandas."""
    return (total - done) / rate if rate > 0 else None


class RunError(MessageError):
    """A run id that is malformed, escapes the runs directory, names no run, or a run in the wrong state."""


# --- is the process that owns a run still there? ---------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc/<pid>/stat; None when there is no such process.

    Raises OSError where there is no /proc (macOS): the caller falls back to os.kill."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        if not Path("/proc/self/stat").exists():
            raise
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def process_started(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), to tell it from a later process given the same pid."""
    try:
        stat = _proc_stat(pid)
    except OSError:
        return None
    return stat[1] if stat else None


def pid_alive(pid: int, started: int | None = None) -> bool:
    """Whether `pid` runs: a zombie (exited, not yet reaped by its parent) is dead, and so is a process
    that started at another time than `started` (the pid was reused)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        stat = _proc_stat(pid)
    except OSError:  # no /proc: ask the kernel (a zombie looks alive here)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return started is None or stat[1] == started


def claim() -> dict[str, Any]:
    """What marks a run as owned by this live process (a dead owner means `interrupted`)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_started": process_started(os.getpid())}


# --- checking what a run folder holds -------------------------------------------------------------------

_NUMBER_KEYS = {
    "step": ("epoch", "step", "global_step", "loss", "lr", "time"),
    "epoch": ("epoch",),
    "start": (),
    "resume": ("epoch", "step", "global_step"),
    "data": ("done", "total"),
}
_OPTIONAL_NUMBERS = (
    "images_per_s", "train_loss", "test_loss", "test_accuracy", "train_seconds", "steps_per_epoch",
    "epochs", "total_steps", "done", "total", "time",
)  # fmt: skip


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


RESTARTS = ("paused", "running", "resume")  # events after which the step rate starts afresh


def valid_event(ev: Any) -> bool:
    """An event the curves and progress code can read: a dict with a type, and numbers where numbers go."""
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
        return False
    if not all(_number(ev.get(k)) for k in _NUMBER_KEYS.get(ev["type"], ())):
        return False
    if not all(_number(ev[k]) for k in _OPTIONAL_NUMBERS if k in ev and ev[k] is not None):
        return False
    if ev["type"] == "data" and not (isinstance(ev.get("stage"), str) and ev["total"] >= 0):
        return False
    samples = ev.get("samples")
    if samples is not None:
        lists = [samples.get(k) if isinstance(samples, dict) else None for k in ("predicted", "true")]
        if not all(isinstance(x, list) and all(isinstance(i, int) for i in x) for x in lists):
            return False
        if len(lists[0]) != len(lists[1]):
            return False
    return True


def _torch_problem(path: Path, kind: str) -> MessageError | None:
    """Why a .pt file cannot be used, or None. Loaded with weights_only (no code runs) and checked for the
    shape the app expects; cached by size and mtime so a listing does not reload unchanged files."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return MessageError(N_("{file} cannot be read."), file=path.name)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _checked:
        if len(_checked) > 512:
            _checked.clear()
        _checked[key] = _check_torch_file(path, kind)
    return _checked[key]


_checked: dict[tuple[str, int, int], MessageError | None] = {}


def _tensors(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _check_torch_file(path: Path, kind: str) -> MessageError | None:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # garbage, truncated, a folder, or objects weights_only refuses: all mean unusable
        return MessageError(N_("{file} is not a readable PyTorch file."), file=path.name)
    if kind == "model":
        ok = _tensors(obj)
    elif kind == "checkpoint":
        ok = (
            isinstance(obj, dict)
            and _tensors(obj.get("model"))
            and isinstance(obj.get("optimizer"), dict)
            and all(isinstance(obj.get(k), int) and obj[k] >= 0 for k in ("epoch", "step"))
        )
    else:  # samples: uint8 N×C×H×W images, and as many labels as there are images
        images = obj.get("images") if isinstance(obj, dict) else None
        ok = (
            isinstance(images, torch.Tensor)
            and images.dtype == torch.uint8
            and images.dim() == 4
            and images.shape[1] in (1, 3)
            and isinstance(obj.get("labels"), list)
            and len(obj["labels"]) == len(images)
            and isinstance(obj.get("classes"), list)
            and all(isinstance(c, str) for c in obj["classes"])
            and all(isinstance(i, int) and 0 <= i < len(obj["classes"]) for i in obj["labels"])
        )
    return None if ok else MessageError(N_("{file} does not hold what a run saves."), file=path.name)


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

    def _json(self, name: str) -> tuple[dict[str, Any], MessageError | None]:
        """A JSON object file of the run, or {} and what is wrong with it."""
        try:
            value = json.loads((self.path / name).read_bytes())
        except FileNotFoundError:
            return {}, MessageError(N_("{file} is missing."), file=name)
        except (OSError, ValueError):  # a folder, unreadable, not UTF-8, not JSON
            return {}, MessageError(N_("{file} is not readable JSON."), file=name)
        if not isinstance(value, dict):
            return {}, MessageError(N_("{file} does not hold a JSON object."), file=name)
        return value, None

    def config(self) -> dict[str, Any]:
        """The run's config as saved; {} when config.json cannot be read (see `problems`)."""
        return self._json("config.json")[0]

    def summary(self) -> dict[str, Any]:
        """The summary, with liveness checked: a run whose process is gone is `interrupted`, a live one with
        no event for far longer than usual is `stalled`, and an unreadable summary is `damaged`."""
        s, problem = self._json("summary.json")
        if problem is not None or s.get("status") not in STATUSES:
            return {**s, "status": "damaged"}
        if s["status"] in ACTIVE and s.get("host") == socket.gethostname():
            if not pid_alive(s.get("pid", -1), s.get("pid_started")):
                s["status"] = "interrupted"
                if (end := self._logged_end(s)) is not None:  # it could not write its summary: its log says
                    s.update(end)
            elif s["status"] == "running" and (quiet := self.stalled_for()) is not None:
                s.update(status="stalled", quiet_seconds=round(quiet))
        return s

    @property
    def status(self) -> str:
        return self.summary()["status"]

    def _logged_end(self, summary: dict[str, Any]) -> dict[str, Any] | None:
        """The status and reason the job wrote to train.log when its summary could not be written (a full
        disk), if that line is newer than the summary's claim; else None."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
                lines = f.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            if not line.startswith(END_MARK):
                continue
            try:
                end = json.loads(line[len(END_MARK) :])
            except ValueError:
                return None
            ok = (
                isinstance(end, dict)
                and end.get("status") in STATUSES
                and end.get("pid") == summary.get("pid")
                and isinstance(end.get("reason", ""), str)
            )
            return {k: end[k] for k in ("status", "reason", "reason_message") if k in end} if ok else None
        return None

    def stalled_for(self, now: float | None = None) -> float | None:
        """Seconds without a sign of life, when that is STALL_FACTOR × the usual gap between events (and
        at least STALL_MIN_SECONDS); else None. Signs of life: writes to metrics.jsonl or summary.json."""
        now = time.time() if now is None else now
        try:
            last = max(
                p.stat().st_mtime for p in (self.metrics_path, self.path / "summary.json") if p.exists()
            )
        except (OSError, ValueError):
            return None
        quiet = now - last
        if quiet < STALL_MIN_SECONDS:
            return None
        return quiet if quiet > STALL_FACTOR * self._usual_gap() else None

    def _usual_gap(self) -> float:
        """The longest gap between the recent events: the run's own rhythm (steps, evaluations)."""
        try:
            with open(self.metrics_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
                lines = f.read().splitlines()[1:]
        except OSError:
            return 0.0
        times = []
        for line in lines:
            try:
                t = json.loads(line).get("time")
            except (ValueError, AttributeError):
                continue
            if _number(t) and math.isfinite(t):
                times.append(t)
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def problems(self, log: EventLog | None = None) -> list[MessageError]:
        """What is wrong on disk: unreadable or missing files, garbage lines. Empty for a healthy run.

        `log`: a reader that already parsed metrics.jsonl (the live view's), to count its bad lines
        without reading a growing file again."""
        if not self.path.is_dir():
            return [MessageError(N_("{name} is a file, not a run folder."), name=self.id)]
        summary, summary_problem = self._json("summary.json")
        found = [p for p in (self._json("config.json")[1], summary_problem) if p is not None]
        if not found or found[0].values.get("file") != "config.json":
            if (p := self.config_problem()) is not None:
                found.insert(0, p)
        if "status" in summary and summary["status"] not in STATUSES:
            found.append(MessageError(N_("summary.json has an unknown status.")))
        if self.metrics_path.exists() and not self.metrics_path.is_file():
            found.append(MessageError(N_("{file} cannot be read."), file=self.metrics_path.name))
        elif bad := (log.bad if log is not None else EventLog(self.metrics_path).bad_lines()):
            found.append(MessageError(N_("metrics.jsonl has {n} unreadable line(s)."), n=bad))
        for path, kind in (
            (self.checkpoint_path, "checkpoint"), (self.model_path, "model"), (self.samples_path, "samples"),
        ):  # fmt: skip
            if (p := _torch_problem(path, kind)) is not None:
                found.append(p)
        return found

    def config_problem(self) -> MessageError | None:
        """Why config.json does not describe a run the app can train or load (unreadable, unknown keys,
        values out of range), or None."""
        values, problem = self._json("config.json")
        if problem is not None:
            return problem
        from .config import from_dict  # config imports the models and data code: only when needed

        if missing := [k for k in REQUIRED_CONFIG if k not in values]:
            lacks = N_("config.json lacks settings a run needs: {fields}.")
            return MessageError(lacks, fields=", ".join(missing))
        try:
            bad = list(from_dict(values).field_problems())
        except TypeError:  # keys that are not config fields
            bad = sorted(set(values) - set(from_dict({}).__dataclass_fields__))
        if bad:
            return MessageError(N_("config.json holds invalid settings: {fields}."), fields=", ".join(bad))
        return None

    def file_usable(self, path: Path) -> bool:
        """Whether one of the run's .pt files exists and holds what the run saves (checked, cached)."""
        kind = {self.checkpoint_path: "checkpoint", self.model_path: "model", self.samples_path: "samples"}
        return path.is_file() and _torch_problem(path, kind[path]) is None

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(summary, self.path / "summary.json")

    def append(self, event: dict[str, Any]) -> None:
        """One event, one line, flushed so a reader in another process sees it at once. A disk that is full
        raises DiskFull; a line it tore is cut off before the next one is written."""
        line = json.dumps(event) + "\n"
        try:
            if self._metrics_file is None:
                self._metrics_file = open(self.metrics_path, "ab", buffering=0)
                self._cut_torn_line()
            self._metrics_file.write(line.encode())
        except OSError as e:
            if not disk_full(e):
                raise
            self.close()
            raise DiskFull(self.metrics_path) from e

    def _cut_torn_line(self) -> None:
        """An incomplete last line (a write the full disk cut short) goes, so the next event starts a line."""
        f = self._metrics_file
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        with open(self.metrics_path, "rb") as r:
            r.seek(max(0, end - 65_536))
            tail = r.read()
        if not tail.endswith(b"\n"):
            f.truncate(end - len(tail) + tail.rfind(b"\n") + 1 if b"\n" in tail else max(0, end - len(tail)))

    def size(self) -> int:
        """Bytes the run takes on disk (its files, checkpoints included)."""
        try:
            if not self.path.is_dir():
                return self.path.stat().st_size
            return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        except OSError:
            return 0

    def close(self) -> None:
        if self._metrics_file is not None:
            try:
                self._metrics_file.close()
            except OSError:
                pass
            self._metrics_file = None

    def events(self) -> list[dict[str, Any]]:
        return EventLog(self.metrics_path).refresh()


class EventLog:
    """Reads metrics.jsonl incrementally: each refresh parses only the lines appended since the last.

    After a `resume` event, step events past the resume point are dropped, so curves show each global
    step once; an incomplete last line (being written, or torn by a crash) waits for the next refresh;
    a line that is not a valid event is skipped and counted in `bad`.

    It also keeps what a live view asks for every second, so that asking costs the same an hour into a
    run as at its start: the newest event of each type (`latest`), the epoch events (`epochs`) and the
    index of the first event after the newest pause, resume or restart (`restarted`)."""

    def __init__(self, path: Path):
        self.path, self.offset, self.events, self.bad = path, 0, [], 0
        self.latest: dict[str, dict[str, Any]] = {}
        self.epochs: list[dict[str, Any]] = []
        self.restarted = 0

    def refresh(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:  # missing, or a folder where the file should be
            return self.events
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for line in chunk[:end].splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                ev = None
            if not valid_event(ev):
                self.bad += line.strip() != b""
                continue
            if ev["type"] == "resume":
                cut, epoch = ev["global_step"], ev["epoch"]
                self.events = [
                    e
                    for e in self.events
                    if not (e["type"] == "step" and e["global_step"] >= cut)
                    and not (e["type"] == "epoch" and e["epoch"] > epoch)
                ]
                self.latest = {e["type"]: e for e in self.events}
                self.epochs = [e for e in self.events if e["type"] == "epoch"]
            self.events.append(ev)
            self.latest[ev["type"]] = ev
            if ev["type"] == "epoch":
                self.epochs.append(ev)
            if ev["type"] in RESTARTS:
                self.restarted = len(self.events)
        return self.events

    def bad_lines(self) -> int:
        """How many complete lines are not valid events (cached by the file's size and mtime)."""
        try:
            st = self.path.stat()
        except OSError:
            return 0
        key = (str(self.path), st.st_size, st.st_mtime_ns)
        if key not in _bad_lines:
            if len(_bad_lines) > 512:
                _bad_lines.clear()
            self.refresh()
            _bad_lines[key] = self.bad
        return _bad_lines[key]


_bad_lines: dict[tuple[str, int, int], int] = {}


class RunStore:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def problem(self) -> MessageError | None:
        """Why the runs directory itself cannot hold runs (a file in its place), or None."""
        if self.root.exists() and not self.root.is_dir():
            return MessageError(N_("The runs folder {path} is a file, not a folder."), path=str(self.root))
        return None

    def _path(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise RunError(
                N_("'{run}' is not a valid run id (letters, digits, '.', '_' and '-' only)."), run=str(run_id)
            )
        path = (self.root / run_id).resolve()
        if path.parent != self.root.resolve():
            raise RunError(N_("'{run}' is not inside {folder}."), run=run_id, folder=str(self.root))
        return path

    def create(self, config: dict[str, Any], name: str | None = None) -> Run:
        """A new run folder with its config and a `running` summary owned by this process.

        Written in a hidden folder and renamed into place, so no reader ever sees a half-made run."""
        if problem := self.problem():
            raise RunError(problem.template, **problem.values)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        label = (
            re.sub(r"[^A-Za-z0-9_.-]+", "-", name or str(config.get("model", "run"))).strip("-.")[:40]
            or "run"
        )
        path = self._path(f"{stamp}-{label}-{secrets.token_hex(2)}")
        tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".new-"))
            atomic_write_json(config, tmp / "config.json")
            atomic_write_json({"status": "running", "name": name or "", "created": time.time(), **claim()},
                              tmp / "summary.json")  # fmt: skip
            os.rename(tmp, path)
        except BaseException as e:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            if disk_full(e) and not isinstance(e, DiskFull):
                raise DiskFull(path / "config.json") from e
            raise
        return Run(path)

    def open(self, run_id: str) -> Run:
        """The run `run_id` names (possibly damaged: see `Run.problems`); RunError when there is none."""
        path = self._path(run_id)
        if not path.exists():
            raise RunError(N_("No run '{run}' in {folder}."), run=run_id, folder=str(self.root))
        return Run(path)

    def list(self) -> list[Run]:
        """Every run, newest first, damaged ones included (hidden entries are not runs)."""
        try:
            entries = [p for p in self.root.iterdir() if not p.name.startswith(".") and RUN_ID.match(p.name)]
        except OSError:  # no runs folder yet, or a file in its place (see `problem`)
            return []
        return sorted((Run(p) for p in entries), key=lambda r: r.id, reverse=True)

    def delete(self, run_id: str) -> None:
        """Remove a run that is not training (a damaged one too); RunError for a live one."""
        run = self.open(run_id)
        status = run.status
        if status in ACTIVE:
            raise RunError(N_("Run '{run}' is still {status}; stop it before deleting it."), run=run_id,
                           status=status)  # fmt: skip
        if run.path.is_dir():
            shutil.rmtree(run.path)
        else:
            run.path.unlink()


def _epochs_done(completed: int, epochs: Any) -> str:
    """The runs table's epochs: "1/2", and a fractional run's fraction once done ("0.2/0.2", not "1/0.2")."""
    if isinstance(epochs, (int, float)) and not isinstance(epochs, bool) and completed > epochs:
        completed = epochs
    return f"{completed}/{epochs}"


def run_row(run: Run) -> dict[str, Any]:
    """One line of a runs table: what a person scans to pick a run. A run with anything unreadable shows
    `damaged` (unless it is training) and says what in `problems`."""
    s, c, problems = run.summary(), run.config(), run.problems()
    acc = s.get("best_accuracy")
    status = s["status"]
    created = s.get("created")
    return {
        "run": run.id,
        "status": "damaged" if problems and status not in ACTIVE else status,
        "model": c.get("model"),
        "preset": c.get("preset") or "custom",
        "data": Path(str(c.get("data", ""))).name or c.get("data"),
        "device": s.get("device", c.get("device")),
        "epochs": _epochs_done(s.get("epochs_completed", 0), c.get("epochs", "?")),
        "best accuracy": round(100 * acc, 2) if _number(acc) else None,
        "train s": s.get("train_seconds") if _number(s.get("train_seconds")) else None,
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if _number(created) else "",
        "size MB": round(run.size() / 1e6, 1),
        "problems": "; ".join(str(p) for p in problems),
    }
