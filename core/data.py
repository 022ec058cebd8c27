"""Datasets held as whole uint8 tensors (N×C×32×32), plus the batch transforms the trainer applies on-device.

Three sources: CIFAR-10 through torchvision, the user's own ImageFolder-layout folder, and a generated
"shapes" set that needs no files. Every image is decoded once at load time; the training loop only
indexes tensors, so no per-sample Python or PIL runs while training.

torchvision is imported inside the functions that use it: importing it takes over a second (it imports
torch._dynamo), which the pages that only ask what data there is (Home, the Train form) should not pay.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .cifar import ARCHIVE, FOLDER, cifar_url, copy_problem, has_layout, manual_fix, on_disk
from .files import DiskFull, atomic_torch_save
from .messages import N_, MessageError, Phrase

Progress = Callable[[str, int, int], None]  # (stage, done, total); a stage is an N_ word

IMAGE_SIZE = 32
TUTORIAL_MEAN = (0.5, 0.5, 0.5)  # the tutorial's transforms.Normalize((0.5,0.5,0.5), (0.5,0.5,0.5))
TUTORIAL_STD = (0.5, 0.5, 0.5)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel statistics of the CIFAR-10 training set
CIFAR_STD = (0.2470, 0.2435, 0.2616)
SYNTHETIC_CLASSES = [
    "disc",
    "square",
    "ring",
    "cross",
    "h-stripes",
    "v-stripes",
    "diamond",
    "triangle",
    "checker",
    "diagonal",
]
SYNTHETIC_TRAIN = 5000
SYNTHETIC_TEST = 1000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")


class DataError(MessageError):
    """Data that cannot be loaded; the message says what is wrong and what was expected."""


@dataclass
class Dataset:
    name: str
    classes: list[str]
    train_x: torch.Tensor  # uint8, N×C×32×32
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    skipped: list[str] = field(default_factory=list)  # unreadable files left out, with reasons

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(
            self.name,
            self.classes,
            self.train_x.to(device),
            self.train_y.to(device),
            self.test_x.to(device),
            self.test_y.to(device),
            self.skipped,
        )

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.train_y):,} train / {len(self.test_y):,} test images, "
            f"{self.num_classes} classes"
        )


def _noop(stage: str, done: int, total: int) -> None:
    pass


def load_dataset(source: str, data_dir: str | Path = "data", progress: Progress | None = None) -> Dataset:
    """`source` is "cifar10", "synthetic" or a path to an ImageFolder-layout folder."""
    progress = progress or _noop
    if source == "cifar10":
        return load_cifar10(data_dir, progress=progress)
    if source == "synthetic":
        return synthetic(Path(data_dir) / "cache")
    if has_layout(source):  # CIFAR-10's files, not the official release (core.cifar.NotOfficial)
        return load_cifar_folder(source, progress)
    return load_image_folder(source, cache_dir=Path(data_dir) / "cache", progress=progress)


def _unpickle(path: Path) -> dict:
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def load_cifar_folder(folder: str | Path, progress: Progress | None = None) -> Dataset:
    """A folder with CIFAR-10's files (data_batch_1…5, test_batch, batches.meta) read as they are, without
    the official md5 check: a copy the learner has that is not the official release, trained on as their
    own data (named after its folder, so never taken for CIFAR-10 in comparisons)."""
    progress = progress or _noop
    folder = Path(folder).expanduser()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    xs, ys = [], []
    try:
        for i, name in enumerate(names):
            batch = _unpickle(folder / name)
            xs.append(
                torch.from_numpy(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).copy())
            )
            ys.append(torch.tensor(batch["labels"], dtype=torch.int64))
            progress(N_("read"), i + 1, len(names))
        classes = list(_unpickle(folder / "batches.meta")["label_names"])
    except Exception as e:  # a file that unpickles to something else: say which folder, not a traceback
        raise DataError(
            N_("{folder} has CIFAR-10's file names but cannot be read as its files ({reason})."),
            folder=str(folder),
            reason=str(e) or type(e).__name__,
        ) from None
    return Dataset(folder.name, classes, torch.cat(xs[:5]), torch.cat(ys[:5]), xs[5], ys[5])


@functools.lru_cache(maxsize=8)
def _cifar_folder_size(folder: str, mtime_ns: int) -> int:
    return sum(len(_unpickle(Path(folder) / f"data_batch_{i}")["labels"]) for i in range(1, 6))


# --- CIFAR-10 ----------------------------------------------------------------------------------------


@functools.cache
def _cifar10_reader(verify: bool) -> type:
    """torchvision's CIFAR10, or without its md5 check (md5 None = skip) for copies whose bytes differ
    from the official release, e.g. generated test fixtures."""
    from torchvision.datasets import CIFAR10

    if verify:
        return CIFAR10

    class UnverifiedCIFAR10(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return UnverifiedCIFAR10


def download_file(url: str, dest: Path, progress: Progress, timeout: float = 30.0) -> None:
    """Download to `dest` through a .part file, reporting bytes; a failed download leaves nothing behind."""
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                progress(N_("download"), done, total)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def load_cifar10(
    data_dir: str | Path = "data",
    progress: Progress | None = None,
    verify: bool = True,
    url: str | None = None,
) -> Dataset:
    """CIFAR-10 through torchvision.datasets.CIFAR10, downloading the archive first with progress.

    torchvision's download=True is used only once the archive is here and matches its md5, so it just
    extracts: only `download_file` ever touches the network. `verify=False` skips torchvision's md5
    check of the batch files (for copies that differ from the official release; say so where used)."""
    progress = progress or _noop
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    from torchvision.datasets.utils import check_integrity

    cls = _cifar10_reader(verify)
    batches = data_dir / cls.base_folder
    archive = data_dir / cls.filename
    if not batches.is_dir() and not archive.exists():
        try:
            download_file(url or cifar_url(), archive, progress)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            raise DataError(
                N_("Could not download CIFAR-10 ({reason}). {how}"),
                reason=str(getattr(e, "reason", e)),
                how=manual_fix(data_dir),
            ) from e
    extract = not batches.is_dir() and check_integrity(str(archive), cls.tgz_md5)
    if not batches.is_dir() and not extract:
        raise DataError(
            N_("{archive} is not the official {name} (its md5 differs); delete it. {how}"),
            archive=str(archive),
            name=ARCHIVE,
            how=manual_fix(data_dir),
        )
    try:
        progress(N_("extract"), 0, 1)
        train = cls(str(data_dir), train=True, download=extract)
        test = cls(str(data_dir), train=False, download=False)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted" (missing file or md5 mismatch)
        raise DataError(
            N_(
                "CIFAR-10 in {folder} is incomplete or does not match the official checksums ({reason}). "
                "Delete that folder to unpack it again. {how}"
            ),
            folder=str(batches),
            reason=str(e),
            how=manual_fix(data_dir),
        ) from e
    progress(N_("extract"), 1, 1)

    def tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
            torch.tensor(ds.targets, dtype=torch.int64),
        )

    return Dataset("cifar10", list(train.classes), *tensors(train), *tensors(test))


# --- an image folder ---------------------------------------------------------------------------------


def image_to_tensor(image: Image.Image, size: int = IMAGE_SIZE, fit: str = "crop") -> torch.Tensor:
    """Any PIL image → uint8 3×size×size: first frame, EXIF rotation applied, any mode (alpha composited on
    white, palette, CMYK, 16-bit and float scaled to 8 bits), then `fit`: "crop" resizes the short side and
    centre-crops (aspect kept), "resize" squashes the whole picture."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / 32-bit / float: scale to 0..255
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        image = Image.fromarray(((values - low) / max(high - low, 1e-12) * 255).round().astype(np.uint8), "L")
    if image.mode == "P" or "A" in image.getbands():
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    from torchvision.transforms import functional as TF

    image = image.convert("RGB")
    if image.size != (size, size):
        if fit == "resize":
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        else:
            image = TF.resize(image, size, antialias=True)
            image = TF.center_crop(image, size)
    return TF.pil_to_tensor(image)


def _folder_fingerprint(split_dirs: list[Path]) -> str:
    """Changes whenever a file is added, removed or rewritten, so a stale cache is never used."""
    h = hashlib.sha1()
    for split in split_dirs:
        h.update(str(split.resolve()).encode())
        for dirpath, dirnames, filenames in os.walk(split):
            dirnames.sort()
            for name in sorted(filenames):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _read_split(
    split_dir: Path, progress: Progress, stage: str
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(split_dir), loader=lambda p: p)
    except FileNotFoundError as e:
        raise DataError(
            N_("{folder}: {reason}. Expected one sub-folder per class, each holding images ({extensions})."),
            folder=str(split_dir),
            reason=str(e),
            extensions=", ".join(IMAGE_EXTENSIONS),
        ) from e
    images, labels, skipped = [], [], []
    total = len(folder.samples)
    for i, (path, label) in enumerate(folder.samples):
        try:
            with Image.open(path) as im:
                images.append(image_to_tensor(im))
            labels.append(label)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            skipped.append(f"{path}: {e}")
        if i % 500 == 0 or i == total - 1:
            progress(stage, i + 1, total)
    if not images:
        raise DataError(
            N_("{folder}: none of its {total} files could be read as an image."),
            folder=str(split_dir),
            total=total,
        )
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64), folder.classes, skipped


def inspect_image_folder(root: str | Path) -> dict[str, dict[str, int]]:
    """Image counts per split and class, without decoding; DataError naming whatever breaks the layout."""
    root = Path(root).expanduser()
    expected = Phrase(
        N_("Expected {root}/train/<class>/*.jpg and {root}/test/<class>/*.jpg."), root=str(root)
    )
    if not root.is_dir():
        raise DataError(
            N_("Data folder {root} does not exist. {expected} Or use cifar10 / synthetic."),
            root=str(root),
            expected=expected,
        )
    missing = [name for name in ("train", "test") if not (root / name).is_dir()]
    if missing:
        found = sorted(p.name for p in root.iterdir() if p.is_dir())[:10]
        raise DataError(
            N_("{root} is not in ImageFolder layout: no {missing} folder (found: {found}). {expected}"),
            root=str(root),
            missing=missing[0] if len(missing) == 1 else Phrase(N_("train or test")),
            found=", ".join(found) or Phrase(N_("no folders")),
            expected=expected,
        )
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        classes = sorted(p for p in (root / split).iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise DataError(
                N_("{folder} has no class folders. {expected}"), folder=str(root / split), expected=expected
            )
        counts[split] = {
            c.name: sum(1 for f in c.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS) for c in classes
        }
        if empty := [c for c, n in counts[split].items() if n == 0]:
            raise DataError(
                N_("Class folder(s) {classes} in {folder} hold no images ({extensions})."),
                classes=", ".join(empty),
                folder=str(root / split),
                extensions=", ".join(IMAGE_EXTENSIONS),
            )
    if list(counts["train"]) != list(counts["test"]):
        raise DataError(
            N_(
                "{root}: train and test must hold the same class folders; train has {train}, test has {test}."
            ),
            root=str(root),
            train=list(counts["train"]),
            test=list(counts["test"]),
        )
    return counts


def train_size(source: str) -> int:
    """How many training images a source has, without loading it (for form validation)."""
    if source == "synthetic":
        return SYNTHETIC_TRAIN
    if source == "cifar10":
        return 50_000
    if has_layout(source):
        folder = Path(source).expanduser()
        return _cifar_folder_size(str(folder), (folder / "data_batch_5").stat().st_mtime_ns)
    return sum(inspect_image_folder(source)["train"].values())


def preview_grid(ds: Dataset, n: int = 32, nrow: int = 8, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """n training images drawn at random (the tutorial's imshow of a batch from a shuffling loader) as one
    H×W×3 uint8 grid, and their labels. An image folder lists its images class by class: its first n
    would all be of the first class."""
    pick = torch.randperm(len(ds.train_y), generator=torch.Generator().manual_seed(seed))[:n]
    return _grid(ds.train_x[pick].cpu(), nrow), [ds.classes[int(k)] for k in ds.train_y[pick]]


def preview_folder(
    root: str | Path, n: int = 32, nrow: int = 8, seed: int = 0
) -> tuple[torch.Tensor, list[str]]:
    """`preview_grid` for an image folder without loading it: n of its training images drawn at random,
    and only those decoded (the whole folder of CIFAR-10 as images, 50,000 files, takes minutes)."""
    from torchvision.datasets import ImageFolder

    folder = ImageFolder(str(Path(root).expanduser() / "train"), loader=lambda p: p)  # lists, decodes nothing
    order = torch.randperm(len(folder.samples), generator=torch.Generator().manual_seed(seed)).tolist()
    images, labels = [], []
    for i in order:
        path, label = folder.samples[i]
        try:
            with Image.open(path) as im:
                images.append(image_to_tensor(im))
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # the loader skips it too (and says so when it loads)
        labels.append(folder.classes[label])
        if len(images) == n:
            break
    if not images:
        raise DataError(
            N_("{folder}: none of its {total} files could be read as an image."),
            folder=str(root),
            total=len(order),
        )
    return _grid(torch.stack(images), nrow), labels


def _grid(images: torch.Tensor, nrow: int) -> torch.Tensor:
    from torchvision.utils import make_grid

    return make_grid(images, nrow=nrow, padding=2, pad_value=255).permute(1, 2, 0).contiguous()


def _read_cache(path: Path, valid: Callable[[Any], bool]) -> Any | None:
    """A cache file's contents, or None: absent, or unreadable or not `valid` (then removed where it can be,
    to be rebuilt: a cache is never trusted over the data it stands for)."""
    try:
        d = torch.load(path, weights_only=True)
    except FileNotFoundError:
        return None
    except Exception:
        d = None
    if d is not None and valid(d):
        return d
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
    return None


def load_image_folder(
    root: str | Path, cache_dir: str | Path | None = None, progress: Progress | None = None
) -> Dataset:
    """`root/train/<class>/*` and `root/test/<class>/*`, any image size, resized to 32×32.

    Decoded tensors are cached under `cache_dir`, keyed by the folder's file list, sizes and times."""
    progress = progress or _noop
    root = Path(root).expanduser()
    inspect_image_folder(root)
    splits = [root / "train", root / "test"]
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"folder-{_folder_fingerprint(splits)}.pt"
        if (d := _read_cache(cache, lambda d: isinstance(d, dict))) is not None:
            try:
                return Dataset(root.name, d["classes"], d["train_x"], d["train_y"], d["test_x"], d["test_y"])
            except KeyError:  # another layout of cache: rebuilt, never trusted
                cache.unlink(missing_ok=True)
    train_x, train_y, classes, skipped = _read_split(splits[0], progress, N_("decode train"))
    test_x, test_y, _, skipped_test = _read_split(splits[1], progress, N_("decode test"))
    ds = Dataset(root.name, classes, train_x, train_y, test_x, test_y, skipped + skipped_test)
    if cache is not None and not ds.skipped:
        atomic_torch_save(
            {"classes": classes, "train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y},
            cache,
        )
    return ds


# --- generated shapes --------------------------------------------------------------------------------


def shapes(labels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One image per label: a class-specific shape or texture at a random place, size and colour,
    on a contrasting background, with pixel noise. Learnable from shape alone, since colours are random."""
    n = len(labels)
    yy, xx = torch.meshgrid(
        torch.arange(IMAGE_SIZE, dtype=torch.float32),
        torch.arange(IMAGE_SIZE, dtype=torch.float32),
        indexing="ij",
    )
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, 1, 1, generator=g)
    cx, cy, r, period, phase = u(11, 21), u(11, 21), u(6, 10), u(5, 9), u(0, 6.3)
    mask = torch.empty(n, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    for k in labels.unique().tolist():
        # only the shape of each image's own class is drawn
        at = (labels == k).nonzero().squeeze(1)
        mask[at, 0] = class_mask(k, xx, yy, cx[at], cy[at], r[at], period[at], phase[at])
    fg = torch.rand(n, 3, 1, 1, generator=g)
    bg = (fg + 0.35 + 0.3 * torch.rand(n, 3, 1, 1, generator=g)) % 1.0  # at least 0.35 away per channel
    img = torch.where(mask, fg, bg) + 0.06 * torch.randn(n, 3, IMAGE_SIZE, IMAGE_SIZE, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def class_mask(
    k: int,
    xx: torch.Tensor,
    yy: torch.Tensor,
    cx: torch.Tensor,
    cy: torch.Tensor,
    r: torch.Tensor,
    period: torch.Tensor,
    phase: torch.Tensor,
) -> torch.Tensor:
    """Where class k's shape is in m images (True inside it), m×H×W: each image has its own centre (cx, cy),
    radius r, and stripe period and phase (each m×1×1)."""
    dx, dy = xx - cx, yy - cy
    dist = (dx**2 + dy**2).sqrt()
    wave = lambda t: torch.sin(t * 6.2832 / period + phase) > 0
    floor4 = lambda t: torch.div(t + phase, 4, rounding_mode="floor")
    masks = {
        0: lambda: dist < r,  # disc
        1: lambda: (dx.abs() < r * 0.85) & (dy.abs() < r * 0.85),  # square
        2: lambda: (dist < r) & (dist > r - 2.5),  # ring
        3: lambda: ((dx.abs() < 1.5) & (dy.abs() < r)) | ((dy.abs() < 1.5) & (dx.abs() < r)),  # cross
        4: lambda: wave(yy),  # h-stripes
        5: lambda: wave(xx),  # v-stripes
        6: lambda: dx.abs() + dy.abs() < r,  # diamond
        7: lambda: (dy.abs() < r * 0.8) & (dx.abs() < (dy + r * 0.8) / 2),  # triangle
        8: lambda: (floor4(xx) + floor4(yy)) % 2 == 0,  # checker
        9: lambda: wave((xx + yy) / 1.4142),  # diagonal
    }
    return masks[k]()


def make_synthetic(n_train: int = SYNTHETIC_TRAIN, n_test: int = SYNTHETIC_TEST, seed: int = 0) -> Dataset:
    """The zero-download demo set: 10 balanced classes of shapes and stripes, same for the same seed."""
    g = torch.Generator().manual_seed(seed)
    k = len(SYNTHETIC_CLASSES)
    train_y = torch.arange(n_train) % k
    test_y = torch.arange(n_test) % k
    train_y = train_y[torch.randperm(n_train, generator=g)]
    return Dataset(
        "synthetic", list(SYNTHETIC_CLASSES), shapes(train_y, g), train_y, shapes(test_y, g), test_y
    )


@functools.cache
def _synthetic_fingerprint() -> str | None:
    """Changes with the code that draws the demo set and with torch (its random numbers), so a cache made
    by another version is never read; None where the source cannot be read (then nothing is cached)."""
    try:
        code = "".join(inspect.getsource(f) for f in (shapes, class_mask, make_synthetic)) + torch.__version__
    except (OSError, TypeError):
        return None
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def synthetic(cache_dir: str | Path) -> Dataset:
    """make_synthetic's demo set, kept in `cache_dir`: drawing it takes about 0.4 s on a 2-core CPU, reading
    it back about 10 ms (docs/BENCHMARKS.md)."""
    if (fingerprint := _synthetic_fingerprint()) is None:
        return make_synthetic()
    cache_dir = Path(cache_dir)
    cache = cache_dir / f"synthetic-{fingerprint}.pt"
    if (d := _read_cache(cache, _is_demo_set)) is not None:
        return Dataset(
            "synthetic", list(SYNTHETIC_CLASSES), d["train_x"], d["train_y"], d["test_x"], d["test_y"]
        )
    ds = make_synthetic()
    try:
        atomic_torch_save(
            {"train_x": ds.train_x, "train_y": ds.train_y, "test_x": ds.test_x, "test_y": ds.test_y}, cache
        )
    except (DiskFull, OSError):  # a full or read-only disk costs only the drawing, next time too
        return ds
    # the sets drawn by older code or another torch are never read again
    for old in cache_dir.glob("synthetic-*.pt"):
        if old != cache:
            with contextlib.suppress(OSError):
                old.unlink()
    return ds


def _is_demo_set(d: object) -> bool:
    """What make_synthetic returns, in shapes, types and label range: anything else is not trained on."""
    image, n, n_test = (3, IMAGE_SIZE, IMAGE_SIZE), SYNTHETIC_TRAIN, SYNTHETIC_TEST
    expected = {
        "train_x": ((n, *image), torch.uint8),
        "train_y": ((n,), torch.int64),
        "test_x": ((n_test, *image), torch.uint8),
        "test_y": ((n_test,), torch.int64),
    }
    if not isinstance(d, dict) or not all(isinstance(d.get(k), torch.Tensor) for k in expected):
        return False
    if not all(d[k].shape == shape and d[k].dtype == dtype for k, (shape, dtype) in expected.items()):
        return False
    return all(
        0 <= int(d[k].min()) and int(d[k].max()) < len(SYNTHETIC_CLASSES) for k in ("train_y", "test_y")
    )


# --- batch transforms, on the training device --------------------------------------------------------


def to_model_input(
    x: torch.Tensor,
    in_channels: int,
    mean: tuple[float, ...] = TUTORIAL_MEAN,
    std: tuple[float, ...] = TUTORIAL_STD,
) -> torch.Tensor:
    """uint8 B×3×H×W → normalised float, grayscale when the model takes one channel (the seed's LeNet).

    The same code serves training, evaluation and single-image prediction."""
    x = x.float().div_(255)
    if in_channels == 1 and x.shape[1] == 3:
        from torchvision.transforms.functional import rgb_to_grayscale

        x = rgb_to_grayscale(x)
    m, s = _normalizer(tuple(mean[: x.shape[1]]), tuple(std[: x.shape[1]]), x.device)
    return (x - m) / s


@functools.lru_cache(maxsize=16)
def _normalizer(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, ...]:
    """Mean and std as 1×C×1×1 tensors on `device`, made once, not on every training step."""
    c = len(mean)
    return torch.tensor(mean, device=device).view(1, c, 1, 1), torch.tensor(std, device=device).view(
        1, c, 1, 1
    )


def augment(x: torch.Tensor, flip: bool, crop_pad: int, g: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal flip and padded random crop, for a whole batch at once: uint8 or float (it only
    moves pixels, so it may run before normalisation or after it)."""
    b, c, h, w = x.shape
    if flip:
        mask = torch.rand(b, device=x.device, generator=g) < 0.5
        x = torch.where(mask.view(b, 1, 1, 1), x.flip(3), x)
    if crop_pad > 0:
        p = crop_pad
        padded = F.pad(x, (p, p, p, p), mode="reflect")
        dy = torch.randint(0, 2 * p + 1, (b, 1, 1), device=x.device, generator=g)
        dx = torch.randint(0, 2 * p + 1, (b, 1, 1), device=x.device, generator=g)
        rows = dy + torch.arange(h, device=x.device).view(1, h, 1)
        cols = dx + torch.arange(w, device=x.device).view(1, 1, w)
        idx = (rows * (w + 2 * p) + cols).view(b, 1, h * w).expand(b, c, h * w)
        x = padded.flatten(2).gather(2, idx).view(b, c, h, w)
    return x


def available_datasets(data_dir: str | Path = "data") -> list[dict[str, str]]:
    """What can be trained on right now without a download, for a status panel: `status` is an `N_` word
    and `detail` a path or a `Phrase` (the app translates both)."""
    data_dir = Path(data_dir)
    cifar, archive = data_dir / FOLDER, data_dir / ARCHIVE
    ready = N_("ready")
    rows = [
        {"dataset": "synthetic", "status": ready, "detail": Phrase(N_("generated shapes, no files needed"))}
    ]
    if on_disk(data_dir) and (problem := copy_problem(data_dir)) is not None:
        # the Train form's verdict on the same files, in the same words (it refuses them as CIFAR-10)
        status = N_("not the official copy") if problem.own_data else N_("not usable")
        rows.append({"dataset": "cifar10", "status": status, "detail": problem})
    elif cifar.is_dir():
        rows.append({"dataset": "cifar10", "status": ready, "detail": str(cifar)})
    elif archive.exists():
        detail = Phrase(N_("{archive} (extracted on first use)"), archive=str(archive))
        rows.append({"dataset": "cifar10", "status": ready, "detail": detail})
    else:
        detail = Phrase(N_("downloads about 163 MB into {folder} on first use"), folder=str(data_dir))
        rows.append({"dataset": "cifar10", "status": N_("not downloaded"), "detail": detail})
    return rows
