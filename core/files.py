"""Writes that never leave a half-written file: write a temp file beside the target, then rename.

A write that fails for lack of space raises `DiskFull`, which says so in our words, with the free space on
that disk and what to do (issue 24); the file it would have replaced stays as it was."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .messages import N_, MessageError

FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left, or the user's quota reached


def disk_full(error: BaseException) -> bool:
    """Whether `error` (or an error it came from) is the disk having no room left."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in FULL:
            return True
        error = error.__cause__ or error.__context__
    return False


def size_text(n: float) -> str:
    """A number of bytes as people read it: 512 bytes, 3.4 MB, 1.2 GB."""
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} TB"  # not reached


def free_bytes(folder: str | Path) -> int | None:
    """Free space on the disk that holds `folder` (or its nearest existing parent); None if unknown."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


class DiskFull(MessageError):
    """A write that found no room on the disk: which file, how much is free, and what to do."""

    def __init__(self, path: str | Path):
        path = Path(path)
        free = free_bytes(path.parent)
        super().__init__(
            N_(
                "The disk holding {folder} is full ({free} free): {file} could not be written. Delete "
                "old runs (the runs table sorts by size) or set BLITZLAB_RUNS_DIR to a folder on a disk "
                "with room."
            ),
            folder=str(path.parent),
            file=path.name,
            free=size_text(free) if free is not None else "?",
        )
        self.path = path


def _atomic(path: Path, data: bytes | memoryview) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if disk_full(e):
            raise DiskFull(path) from e
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    # serialised in memory first: torch.save into a file that fills reports a bare "unexpected pos" error,
    # where a plain write says ENOSPC
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _atomic(Path(path), buffer.getbuffer())


def atomic_write_json(obj: Any, path: str | Path) -> None:
    _atomic(Path(path), json.dumps(obj, indent=2).encode())


def atomic_write_text(text: str, path: str | Path) -> None:
    _atomic(Path(path), text.encode())
