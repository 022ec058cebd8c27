"""The server's end of the warm starter (core/starter.py): a one-process training job is forked from a
process that has already imported torch, instead of a fresh `python -m core.train` that spends ~4 s on
imports before its first step (docs/BENCHMARKS.md). `launch` returns at once: a job asked of a starter
still importing forks when the imports are done, as soon as a fresh process would have started training.
`Job` is the part of `subprocess.Popen` that core/jobs.py uses, so both kinds of job are reaped alike.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .runs import pid_alive

ROOT = Path(__file__).resolve().parents[1]
NEVER_FORKED = -1  # the exit code of a job whose starter died before forking it


class StarterGone(Exception):
    """The starter cannot take a job: the caller starts `python -m core.train` itself."""


def _env_key(env: dict[str, str]) -> dict[str, str]:
    """What a forked job cannot change: variables read when torch is imported (OMP_NUM_THREADS, …). The
    project's own BLITZLAB_* ones are read at run time, so a job gets the caller's values of those."""
    return {k: v for k, v in env.items() if not k.startswith("BLITZLAB_")}


class Starter:
    """The server's end of one `python -m core.starter` process."""

    def __init__(self, env: dict[str, str]):
        self.key = _env_key(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.starter"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._ids = itertools.count()
        self._pending = b""
        self._pids: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self.gone = False

    def ask(self, argv: list[str], log: Path, cwd: Path, env: dict[str, str]) -> int:
        """Send a job; its id. Raises StarterGone when the starter cannot read it."""
        request = {"id": next(self._ids), "argv": argv, "log": str(log), "cwd": str(cwd), "env": env}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:
            self.gone = True
            raise StarterGone from e
        return request["id"]

    def read(self) -> None:
        """Take in what the starter said so far, without waiting."""
        while not self.gone:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.gone = True
                self.proc.wait()
                return
            *lines, self._pending = (self._pending + chunk).split(b"\n")
            for message in map(json.loads, lines):
                if "pid" in message:
                    self._pids[message["id"]] = message["pid"]
                else:
                    self._exits[message["id"]] = message["exit"]

    def pid(self, job: int, wait: float) -> int | None:
        """The job's process id once forked (waiting up to `wait` s for it); None if it never was."""
        deadline = time.monotonic() + wait
        while True:
            with _lock:
                self.read()
                if job in self._pids or self.gone:
                    return self._pids.get(job)
            if time.monotonic() > deadline:
                return None
            select.select([self.proc.stdout], [], [], 0.1)

    def exit_code(self, job: int) -> int | None:
        with _lock:
            self.read()
            if job in self._exits or not self.gone:
                return self._exits.get(job)
            # the starter died: a job it forked lives on (reparented); /proc says when it ends
            pid = self._pids.get(job)
            return NEVER_FORKED if pid is None or not pid_alive(pid) else None

    def close(self) -> None:
        """Take no more jobs: the starter forks what it was asked, then exits; its jobs train on."""
        self.proc.stdin.close()


class Job:
    """A forked job as the server sees it: the part of `subprocess.Popen` that core/jobs.py uses."""

    def __init__(self, starter: Starter, job: int):
        self._starter, self._job, self.returncode = starter, job, None

    @property
    def pid(self) -> int | None:
        """Waits for the fork: until the starter has imported the engine, on its first job."""
        return self._starter.pid(self._job, wait=120)

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._starter.exit_code(self._job)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("core.starter job", timeout)
            time.sleep(0.02)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None and (pid := self.pid) is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


_lock = threading.RLock()
_starter: Starter | None = None


def warm() -> None:
    """Start the starter ahead of the first job (the Train page calls this), so that one forks too."""
    global _starter
    with _lock:
        if _starter is None:
            _starter = Starter(dict(os.environ))


def launch(argv: list[str], log: Path, cwd: Path = ROOT) -> Job:
    """Start `python -m core.train <argv>`, forked from the warm starter, with this process's environment;
    returns at once. A starter that died, or was started under other import-time variables, is replaced
    (the old one's jobs train on). Raises StarterGone when the starter cannot take the job."""
    global _starter
    env = dict(os.environ)
    with _lock:
        if _starter is not None:
            _starter.read()
            if _starter.gone or _starter.key != _env_key(env):
                if not _starter.gone:
                    _starter.close()
                _starter = None
        if _starter is None:
            _starter = Starter(env)
        return Job(_starter, _starter.ask(argv, log, cwd, env))
