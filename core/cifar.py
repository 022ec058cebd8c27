"""Where CIFAR-10 comes from, known before a run starts: already in the data folder, downloadable from here,
or a copy the learner points at. A run whose data cannot arrive is refused up front (core.validate) instead
of failing seconds after it started.

The download host is probed once (a TCP connect, at most PROBE_TIMEOUT seconds) and the answer kept for
PROBE_TTL seconds, so the form's reruns never wait on the network. Copies are checked against the official
md5s, each file hashed once per size and modification time.

The release's names and md5s are written here rather than read from torchvision.datasets.CIFAR10: importing
torchvision takes over a second (it imports torch._dynamo), and the pages that only ask where CIFAR-10 is
(Home, the Train form) need none of it. tests/test_cifar.py checks they are torchvision's."""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .messages import N_, MessageError, Phrase

# the official release, as torchvision.datasets.CIFAR10 downloads and checks it
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"  # what the archive unpacks to
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
# every file of an unpacked copy and its official md5
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
PROBE_TIMEOUT = 2.0  # seconds: an offline machine answers Start's question this fast at worst
PROBE_TTL = 300.0  # seconds a probe's answer is reused (a machine that comes online is seen again)
URL_ENV = "BLITZLAB_CIFAR_URL"  # a mirror of the archive (also how tests choose a reachable or dead host)


class CifarError(MessageError):
    """CIFAR-10 cannot be had from here, or a copy is not the official one; the message says what to do."""

    own_data: str | None = None  # a folder that can still be trained on as the learner's own data


class NotOfficial(CifarError):
    """A copy with CIFAR-10's files whose bytes are not the official release's (re-saved, another version,
    damaged): not read as CIFAR-10 (torchvision checks the md5s), but its folder can be trained on as the
    learner's own data (core.data reads it without the check). `own_data` is that folder."""

    def __init__(self, folder: Path, file: str, found: str, expected: str):
        super().__init__(
            N_(
                "{file} in {folder} is not the official CIFAR-10 (md5 {found}, expected {expected}), so it "
                "cannot be read as CIFAR-10. Its files have CIFAR-10's layout: train on them as they are, "
                "as your own data (data {folder}), or put the official {archive} in the data folder."
            ),
            file=file,
            folder=str(folder),
            found=found,
            expected=expected,
            archive=ARCHIVE,
        )
        self.own_data = str(folder)


@dataclass(frozen=True)
class Source:
    """Where a typed path leads: CIFAR-10 in `data_dir` (data "cifar10"), or an image folder (data = path)."""

    data: str
    data_dir: str | None = None


def cifar_url() -> str:
    """The archive's address: $BLITZLAB_CIFAR_URL (a mirror) or the official URL."""
    return os.environ.get(URL_ENV) or URL


def manual_fix(data_dir: str | Path) -> Phrase:
    """How to install CIFAR-10 by hand, as words that fill a message."""
    return Phrase(
        N_(
            "To install it by hand, download {url} on a machine with internet and place the file (about "
            "163 MB) at {archive}; it is checked and extracted on the next start. Or use the generated demo "
            "data (--data synthetic) or an image folder."
        ),
        url=cifar_url(),
        archive=str(Path(data_dir) / ARCHIVE),
    )


# --- can it be downloaded? -----------------------------------------------------------------------------

_probes: dict[str, tuple[float, bool]] = {}  # url → (when, reachable)
_probe_lock = threading.Lock()


def _connects(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds, name lookup included (it runs
    in a thread, since a resolver can hang longer than any socket timeout)."""
    answer: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


def can_download(url: str | None = None, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the archive's host answers (a connect, no download), remembered for PROBE_TTL seconds."""
    url = url or cifar_url()
    with _probe_lock:
        cached = _probes.get(url)
        if cached is not None and time.monotonic() - cached[0] < PROBE_TTL:
            return cached[1]
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        reachable = bool(parts.hostname) and _connects(parts.hostname, port, timeout)
        _probes[url] = (time.monotonic(), reachable)
        return reachable


# --- is a copy the official one? -----------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    """A file's md5, computed once per size and modification time (the archive is 163 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    stat = path.stat()
    return _md5(str(path), stat.st_size, stat.st_mtime_ns)


def check_archive(path: Path, md5: str = ARCHIVE_MD5) -> None:
    """A cifar-10-python.tar.gz that is the official one (md5), where torchvision can unpack it."""
    found = md5_of(path)
    if found != md5:
        raise CifarError(
            N_("{path} is not the official {archive}: its md5 is {found}, the official one is {expected}."),
            path=str(path),
            archive=ARCHIVE,
            found=found,
            expected=md5,
        )
    if path.name != ARCHIVE:
        raise CifarError(
            N_("{path} is the official archive; rename it to {archive} (the name torchvision looks for)."),
            path=str(path),
            archive=ARCHIVE,
        )
    if not (path.parent / FOLDER).is_dir() and not os.access(path.parent, os.W_OK):
        raise CifarError(
            N_(
                "{folder} is read-only, and the archive is unpacked next to it on first use: copy the "
                "archive into a folder you can write to."
            ),
            folder=str(path.parent),
        )


def check_batches(folder: Path, md5s: dict[str, str] = BATCH_MD5) -> None:
    """An unpacked copy: every batch file present and the official one (md5)."""
    if missing := [name for name in md5s if not (folder / name).is_file()]:
        raise CifarError(
            N_("{folder} is not a complete {name} folder: {files} missing."),
            folder=str(folder),
            name=FOLDER,
            files=", ".join(missing),
        )
    for name, md5 in md5s.items():
        if (found := md5_of(folder / name)) != md5:
            if has_layout(folder):
                raise NotOfficial(folder, name, found, md5)
            raise CifarError(
                N_(
                    "{file} in {folder} is not the official one (md5 {found}, expected {expected}) and the "
                    "folder cannot be read as CIFAR-10's files: delete it, and put the official {archive} "
                    "in the data folder."
                ),
                file=name,
                folder=str(folder),
                found=found,
                expected=md5,
                archive=ARCHIVE,
            )
    if folder.name != FOLDER:
        raise CifarError(
            N_("Rename {folder} to {name} (the name torchvision looks for)."), folder=str(folder), name=FOLDER
        )


def has_layout(folder: str | Path) -> bool:
    """Whether `folder` holds CIFAR-10's files, each a Python pickle (its first bytes), whatever their md5:
    what core.data.load_cifar_folder reads."""
    folder = Path(folder).expanduser()
    try:
        for name in BATCH_MD5:
            with open(folder / name, "rb") as f:
                if f.read(1) != b"\x80":  # pickle protocol 2 and later
                    return False
    except OSError:
        return False
    return True


def on_disk(data_dir: str | Path) -> bool:
    """Whether the data folder holds CIFAR-10, unpacked or as the archive (not yet checked)."""
    return (Path(data_dir) / FOLDER).is_dir() or (Path(data_dir) / ARCHIVE).is_file()


def _check_data_dir(data_dir: Path, archive_md5: str, batch_md5s: dict[str, str]) -> None:
    """The copy in `data_dir`: the unpacked folder if there is one (what gets read), else the archive."""
    if (data_dir / FOLDER).is_dir():
        check_batches(data_dir / FOLDER, batch_md5s)
    else:
        check_archive(data_dir / ARCHIVE, archive_md5)


def copy_problem(
    data_dir: str | Path, archive_md5: str = ARCHIVE_MD5, batch_md5s: dict[str, str] = BATCH_MD5
) -> CifarError | None:
    """What is wrong with the copy of CIFAR-10 in `data_dir` (`on_disk`), or None: the one verdict Home and
    the Train form both show (a run reads these files through torchvision, which checks the md5s)."""
    data_dir = Path(data_dir).expanduser()
    try:
        _check_data_dir(data_dir, archive_md5, batch_md5s)
    except CifarError as e:
        return e
    except OSError as e:
        return CifarError(N_("{path} cannot be read: {reason}."), path=str(data_dir), reason=e.strerror or e)
    return None


def cifar_problem(
    data_dir: str | Path,
    url: str | None = None,
    archive_md5: str = ARCHIVE_MD5,
    batch_md5s: dict[str, str] = BATCH_MD5,
) -> CifarError | None:
    """Why a CIFAR-10 run with this data folder cannot get its data, or None: a copy there must be the
    official one; without one, the download host must answer."""
    data_dir = Path(data_dir).expanduser()
    if on_disk(data_dir):
        return copy_problem(data_dir, archive_md5, batch_md5s)
    url = url or cifar_url()
    if can_download(url):
        return None
    return CifarError(
        N_("CIFAR-10 is not in {folder} and cannot be downloaded from here ({host} does not answer). {how}"),
        folder=str(data_dir),
        host=urlsplit(url).hostname or url,
        how=manual_fix(data_dir),
    )


def resolve_copy(path: str, archive_md5: str = ARCHIVE_MD5, batch_md5s: dict[str, str] = BATCH_MD5) -> Source:
    """A path the learner typed → the data it holds: a `cifar-10-batches-py` folder, a
    `cifar-10-python.tar.gz` or a folder holding either (each checked against the official md5s), or an
    image folder (train/, test/; its images are checked where every folder is, core.validate). CifarError
    says what is wrong."""
    root = Path(path.strip()).expanduser()
    try:
        if not root.exists():
            raise CifarError(N_("{path} does not exist."), path=str(root))
        if root.is_file():
            check_archive(root, archive_md5)
            return Source("cifar10", str(root.parent))
        names = {p.name for p in root.iterdir()}
        if names & set(batch_md5s):
            check_batches(root, batch_md5s)
            return Source("cifar10", str(root.parent))
        if FOLDER in names or ARCHIVE in names:
            _check_data_dir(root, archive_md5, batch_md5s)
            return Source("cifar10", str(root))
        if {"train", "test"} <= names:
            return Source(str(root))
    except OSError as e:
        raise CifarError(
            N_("{path} cannot be read: {reason}."), path=str(root), reason=e.strerror or e
        ) from None
    raise CifarError(
        N_(
            "{path} holds neither CIFAR-10 ({folder} or {archive}) nor an image folder (train/<class>/…, "
            "test/<class>/…)."
        ),
        path=str(root),
        folder=FOLDER,
        archive=ARCHIVE,
    )
