"""Cooperative pause / resume / stop of a training run, checked by the loop between steps.

Why cooperative: a step is never cut in half, so a stop always leaves a consistent checkpoint. Other
threads call the methods; another process (the app, a shell) writes "pause", "resume" or "stop" into the
run folder's control file (`Run.control_path`), which the loop reads at most twice a second, and/or a line
`set lr=0.01 momentum=0.9 weight_decay=0` to change hyper-parameters (the loop applies them once, when they
differ from those in force, and saves a checkpoint so that they survive a crash).

The control file accepts anything (issue 24): it is read MAX_BYTES at most; a file larger than that, bytes
that are not UTF-8 text, binary (NUL bytes) or a folder in its place are refused, once per content, through
`on_refused` (the trainer records a `control` event); a line that is no command is ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from .files import atomic_write_text
from .messages import N_, MessageError

COMMANDS = ("pause", "resume", "stop")
POLL_SECONDS = 0.5  # the control file is read at most this often
PAUSED_TICK = 0.25  # while paused, commands are checked this often
MAX_BYTES = 4096  # a control file longer than this is no command of ours: refused unread


def read_control(path: Path) -> tuple[list[str], MessageError | None]:
    """The control file's lines, read MAX_BYTES at most, and why it was refused (or None): never raises."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return [], None
    except OSError:  # a folder in its place, no permission
        return [], MessageError(N_("The control file cannot be read; it was ignored."))
    if len(data) > MAX_BYTES:
        too_large = N_("The control file is larger than {limit} bytes; it was ignored.")
        return [], MessageError(too_large, limit=MAX_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], MessageError(N_("The control file is not UTF-8 text; it was ignored."))
    if "\x00" in text:
        return [], MessageError(N_("The control file holds binary data; it was ignored."))
    return [line.strip() for line in text.splitlines() if line.strip()], None


class Stopped(Exception):
    """The user asked the run to stop; the loop saves a checkpoint first."""


def set_command(values: dict[str, float]) -> str:
    """The control-file line that changes hyper-parameters: `set lr=0.01 momentum=0.9`."""
    return "set " + " ".join(f"{k}={v!r}" for k, v in values.items())


def write_command(path: Path, command: str) -> None:
    """Put `command` in the control file beside the latest `set` line (or the latest other command, when
    `command` is a `set`): Resume pressed right after Apply must not erase the new values before the job
    has read them, and Apply on a paused job must not erase its pause."""
    lines = [line for line in read_control(path)[0] if line in COMMANDS or line.startswith("set ")]
    is_set = command.startswith("set ")
    kept = [line for line in lines if line.startswith("set ") != is_set][-1:]
    atomic_write_text("\n".join([*kept, command] if not is_set else [command, *kept]) + "\n", path)


def parse_set(command: str) -> dict[str, float]:
    """`set lr=0.01 momentum=0.9` → {"lr": 0.01, "momentum": 0.9}; anything malformed → {}."""
    try:
        pairs = [word.split("=", 1) for word in command.split()[1:]]
        return {k: float(v) for k, v in pairs}
    except ValueError:
        return {}


class Control:
    def __init__(self, control_file: Path | None = None):
        self.hyperparameters: dict[str, float] = {}  # a new `set` command's values, for the loop to apply
        self._last_set = ""
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.control_file = control_file
        self._last_poll = 0.0
        self.on_refused: Callable[[MessageError], None] = lambda why: None  # a control file it cannot take
        self._refused: tuple[str, str] | None = None  # the last refusal: said once, not twice a second

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def apply(self, command: str) -> None:
        """Take on a command by name; anything else is ignored (a half-written file, a typo)."""
        if command.startswith("set ") and command != self._last_set:  # each `set` line is delivered once
            self._last_set, self.hyperparameters = command, parse_set(command)
        {"stop": self.stop, "pause": self.pause, "resume": self.resume}.get(command, lambda: None)()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def poll(self) -> None:
        if self.control_file is None or time.monotonic() - self._last_poll < POLL_SECONDS:
            return
        self._last_poll = time.monotonic()
        commands, refused = read_control(self.control_file)
        if refused is not None:
            try:
                st = self.control_file.stat()
                seen = (str(refused), f"{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                seen = (str(refused), "")
            if seen != self._refused:
                self._refused = seen
                self.on_refused(refused)
            return
        self._refused = None
        for command in commands:  # a `set` line, then pause / resume / stop
            self.apply(command)

    def wait_while_paused(
        self, on_pause: Callable[[], None], on_resume: Callable[[], None], tick: Callable[[], None]
    ) -> float:
        """Block while paused, calling `tick` (which reads new commands) a few times a second.

        Returns the seconds spent paused: they are not training time."""
        if not self.paused:
            return 0.0
        t0 = time.monotonic()
        on_pause()
        while self.paused and not self.stopping:
            self._running.wait(PAUSED_TICK)
            tick()
        on_resume()
        return time.monotonic() - t0
