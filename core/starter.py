"""`python -m core.starter`: the app's warm starter for training jobs. It imports the engine once and
forks each job from itself, so a job skips the ~4 s a fresh `python -m core.train` spends importing torch
and torch._dynamo (which the first optimizer imports); see docs/TRAINING_JOBS.md and docs/BENCHMARKS.md.
The server's end is core/forks.py.

It never runs a tensor op, so a forked job starts with no OpenMP pool and no CUDA context, as a fresh
process would. JSON lines: the server writes {"id", "argv", "log", "cwd", "env"} to its stdin; it answers
{"id", "pid"} once that job is forked and {"id", "exit"} when it ends (the code as `Popen.returncode`).
At EOF (the server gone, or a new starter replacing this one) it takes no more jobs and exits once its
jobs have ended; they train on either way, as a `python -m core.train` child of a gone server does.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback

# what every job would import: the engine, and torch._dynamo, which the first optimizer imports
import torch._dynamo  # noqa: F401

from . import train

REAP_EVERY = 0.2  # s: how soon the server hears that a job ended


def _job(request: dict) -> int:
    """In the forked child: become `python -m core.train <argv>`, writing to the run's log. The server's
    pipes were stdin and stdout: the dup2 calls close them."""
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
    except BaseException:
        traceback.print_exc()
        return 1


def _fork(request: dict) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _job(request)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def serve() -> None:
    """Answer the server's requests (stdin) on stdout until it closes stdin, then stay until the jobs
    forked here have ended, so that their exit codes still reach a server that is there to read them."""
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    # Ctrl-C in the server's terminal reaches this process too: the server's exit (EOF) ends it instead
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ours: dict[int, int] = {}  # pid → request id
    pending, taking = b"", True

    def say(message: dict) -> None:
        try:
            os.write(out, (json.dumps(message) + "\n").encode())
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
            pid = _fork(request)
            ours[pid] = request["id"]
            say({"id": request["id"], "pid": pid})


if __name__ == "__main__":
    serve()
