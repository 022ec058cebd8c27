"""`python -m core.starter`: the app's warm starter for training jobs (Linux). It imports the engine once and
forks each job from itself, so a job skips the ~4 s a fresh `python -m core.train` spends importing torch
and torch._dynamo (which the first optimizer imports); see docs/TRAINING_JOBS.md and docs/BENCHMARKS.md.
The server's end is core/forks.py.

It never runs a tensor op or asks about CUDA, so a forked job starts with no OpenMP pool and no CUDA state,
as a fresh process would. JSON lines: the server writes {"id", "argv", "log", "cwd", "env"} to its stdin;
it answers on the pipe whose fd is its argument {"id", "pid", "started"} once that job is forked (or {"id",
"error"} when it could not fork), and {"id", "exit"} when the job ends (the code as `Popen.returncode`); a
library that prints writes to the server's terminal, not to that pipe. At EOF (the server gone, or a new
starter replacing this one) it takes no more jobs and exits once its jobs have ended; they train on.
"""

from __future__ import annotations

import json
import os
import signal
import sys

# Ctrl-C in the server's terminal reaches this process too: the server's exit (EOF) ends it instead
signal.signal(signal.SIGINT, signal.SIG_IGN)

import select  # noqa: E402
import traceback  # noqa: E402

# what every job would import: the engine, and torch._dynamo, which the first optimizer imports
import torch._dynamo  # noqa: E402, F401

from . import train  # noqa: E402
from .runs import process_started  # noqa: E402

REAP_EVERY = 0.2  # s: how soon the server hears that a job ended
REPLIES = int(sys.argv[1]) if __name__ == "__main__" else -1  # the server's pipe for answers


def _job(request: dict) -> int:
    """In the forked child: become `python -m core.train <argv>`, writing to the run's log."""
    os.close(REPLIES)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [train.__file__, *request["argv"]]
    try:
        return train.main(request["argv"])
    except SystemExit as e:  # argparse's refusals
        return e.code if isinstance(e.code, int) else int(e.code is not None)


def _fork(request: dict) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _job(request)
        except BaseException:  # to the run's log once it is stdout, else to the server's terminal
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def serve() -> None:
    """Answer the server's requests (stdin) until it closes stdin, then stay until the jobs forked here have
    ended, so that their exit codes still reach a server that is there to read them."""
    inp = sys.stdin.fileno()
    ours: dict[int, int] = {}  # pid → request id
    pending, taking = b"", True

    def say(message: dict) -> None:
        try:
            os.write(REPLIES, (json.dumps(message) + "\n").encode())
        except BrokenPipeError:  # the server is gone: nobody to tell
            pass

    while taking or ours:
        readable, _, _ = select.select([inp] if taking else [], [], [], REAP_EVERY)
        for pid in list(ours):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                say({"id": ours.pop(pid), "exit": os.waitstatus_to_exitcode(status)})
        if not readable:
            continue
        chunk = os.read(inp, 65536)
        taking = bool(chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        for request in map(json.loads, lines):
            try:
                pid = _fork(request)
            except OSError as e:  # no memory or process slots left: the server starts a fresh process
                say({"id": request["id"], "error": str(e)})
                continue
            ours[pid] = request["id"]
            say({"id": request["id"], "pid": pid, "started": process_started(pid)})


if __name__ == "__main__":
    serve()
