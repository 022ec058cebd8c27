"""Polling for what another process (a training job) will do soon."""

import os
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def reads_are_seen(folder: Path) -> bool:
    """Whether reading a file in `folder` after its access time was set to 0 sets it again (Linux's default
    `relatime` mount does; a `noatime` mount never does): then `wait_until_read` can tell when another
    process has read a file."""
    probe = folder / ".atime-probe"
    probe.write_bytes(b"x")
    os.utime(probe, ns=(0, probe.stat().st_mtime_ns))
    probe.read_bytes()
    seen = probe.stat().st_atime_ns != 0
    probe.unlink()
    return seen


def wait_until_read(path: Path, timeout: float, unless: Callable[[], bool] = lambda: False) -> None:
    """Wait until some process reads `path` (written just before), by its access time (`reads_are_seen`), or
    until `unless()` (that process has ended, say)."""
    os.utime(path, ns=(0, path.stat().st_mtime_ns))
    wait_for(lambda: path.stat().st_atime_ns != 0 or unless(), timeout)
