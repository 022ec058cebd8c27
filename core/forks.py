"""The server's end of the warm starter (core/starter.py): on Linux, a one-process training job is forked
from a process that has already imported torch, instead of a fresh `python -m core.train` that spends ~4 s
on imports before its first step (docs/BENCHMARKS.md). `launch` returns at once: a job asked of a starter
still importing forks when the imports are done, as soon as a fresh process would have started training.
A job the starter cannot fork (it died, or fork failed) starts at once as a fresh process instead.
`Job` is the part of `subprocess.Popen` that core/jobs.py uses, so both kinds of job are reaped alike.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .runs import pid_alive

ROOT = Path(__file__).resolve().parents[1]
FORKS = sys.platform == "linux"  # fork after importing torch is not safe on macOS
LOST = -1  # the exit code of a forked job whose starter died before telling it: unknown
# Variables that differ from one call to the next and that nothing reads at import: the project's own
# (read at run time, so a job gets the caller's values) and pytest's name of the running test.
PER_CALL = ("BLITZLAB_", "PYTEST_CURRENT_TEST")


def _env_key(env: dict[str, str]) -> dict[str, str]:
    """What a forked job cannot change: variables read when torch is imported (OMP_NUM_THREADS, …)."""
    return {k: v for k, v in env.items() if not k.startswith(PER_CALL)}


def fresh(
    command: list[str], log: Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`command` as a process of its own, its output appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


class Starter:
    """The server's end of one `python -m core.starter` process; a thread reads its answers."""

    def __init__(self, env: dict[str, str]):
        self.key = _env_key(env)
        replies, theirs = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.starter", str(theirs)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(theirs,),
        )
        os.close(theirs)
        self._ids = itertools.count()
        self._changed = threading.Condition()
        self._asked: dict[int, tuple[list[str], Path, Path, dict[str, str]]] = {}
        self._forked: dict[int, tuple[int, int | None]] = {}  # job → (pid, start time)
        self._fresh: dict[int, subprocess.Popen] = {}  # jobs it could not fork
        self._exits: dict[int, int] = {}
        self.gone = False
        threading.Thread(target=self._listen, args=(replies,), daemon=True).start()

    def ask(self, command: list[str], log: Path, cwd: Path, env: dict[str, str]) -> int:
        """Send a job (`command` is its fresh-process form); its id."""
        with self._changed:
            job = next(self._ids)
            self._asked[job] = (command, log, cwd, env)
            request = {"id": job, "argv": command[3:], "log": str(log), "cwd": str(cwd), "env": env}
            try:
                self.proc.stdin.write((json.dumps(request) + "\n").encode())
                self.proc.stdin.flush()
            except (OSError, ValueError):  # it died, or was closed: the listener starts the rest
                self._start_fresh(job)
            return job

    def _start_fresh(self, job: int) -> None:
        if job not in self._fresh:
            self._fresh[job] = fresh(*self._asked[job])

    def _listen(self, replies: int) -> None:
        with open(replies, "rb") as answers:
            for line in answers:
                message = json.loads(line)
                with self._changed:
                    if "pid" in message:
                        self._forked[message["id"]] = (message["pid"], message["started"])
                    elif "error" in message:
                        self._start_fresh(message["id"])
                    else:
                        self._exits[message["id"]] = message["exit"]
                    self._changed.notify_all()
        self.proc.wait()
        with self._changed:
            self.gone = True
            for job in set(self._asked) - set(self._forked):
                self._start_fresh(job)
            self._changed.notify_all()

    def pid(self, job: int, wait: float) -> int | None:
        """The job's process id, waiting up to `wait` s for the fork (the imports, on a first job)."""
        with self._changed:
            self._changed.wait_for(lambda: job in self._forked or job in self._fresh, wait)
            if job in self._fresh:
                return self._fresh[job].pid
            return self._forked[job][0] if job in self._forked else None

    def exit_code(self, job: int) -> int | None:
        with self._changed:
            if job in self._fresh:
                return self._fresh[job].poll()
            if job in self._exits or not self.gone:
                return self._exits.get(job)
            # the starter died: the job lives on (reparented), and /proc tells when it ends
            return None if pid_alive(*self._forked[job]) else LOST

    def alive(self, job: int) -> bool:
        """Whether the job's process runs (its pid may be another process's once it has ended)."""
        with self._changed:
            if job in self._fresh:
                return self._fresh[job].poll() is None
            return job in self._forked and pid_alive(*self._forked[job])

    def close(self) -> None:
        """Take no more jobs: the starter forks what it was asked, then exits when its jobs have ended."""
        with self._changed:
            self.proc.stdin.close()


class Job:
    """A job launched through a starter: forked by it, or a fresh process where it could not fork one."""

    def __init__(self, starter: Starter, job: int):
        self._starter, self._job, self.returncode = starter, job, None

    @property
    def pid(self) -> int | None:
        """Waits for the fork (the starter's imports, on its first job); None if it takes over 2 min."""
        return self._starter.pid(self._job, wait=120)

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._starter.exit_code(self._job)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"job {self._job} of core.starter", timeout)
            time.sleep(0.02)
        return self.returncode

    def kill(self) -> None:
        if (pid := self.pid) is not None and self._starter.alive(self._job):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


_lock = threading.Lock()
_starter: Starter | None = None


def _current(env: dict[str, str]) -> Starter:
    """The starter for `env`: the running one, or a new one where it died or was started under other
    import-time variables (the old one's jobs train on). Call with `_lock` held."""
    global _starter
    if _starter is not None and not _starter.gone and _starter.key != _env_key(env):
        _starter.close()
        _starter = None
    if _starter is None or _starter.gone:
        _starter = Starter(env)
    return _starter


def warm() -> None:
    """Get a starter ready ahead of the first job (the Train page calls this), so that one forks too."""
    if FORKS:
        with _lock:
            _current(dict(os.environ))


def launch(command: list[str], log: Path, cwd: Path = ROOT) -> Job | subprocess.Popen:
    """Start `command` (`python -m core.train ...`), forked from the warm starter with this process's
    environment where it can be, else as a fresh process; returns at once, the job's output going to `log`."""
    env = dict(os.environ)
    if not FORKS:
        return fresh(command, log, cwd, env)
    # a log that cannot be written fails here, in the caller, as a fresh process's would
    open(log, "ab").close()
    with _lock:
        starter = _current(env)
        return Job(starter, starter.ask(command, log, cwd, env))
