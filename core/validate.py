"""Everything that can be checked before a run starts, in one function the CLI and the form both call.

Why before: a value that cannot work (a batch larger than the dataset, a data folder that is not there or
holds no images, a device this machine lacks) used to create a run folder that then ended `failed`.
Checked here first, the CLI exits with one line and the form keeps Start disabled, and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from .cifar import CifarError, cifar_problem, has_layout
from .config import TrainConfig, from_dict
from .data import IMAGE_EXTENSIONS, DataError, inspect_image_folder, train_size
from .devices import DDP_DEVICE, DeviceError, resolve_device
from .files import free_bytes, size_text
from .layers import infer, parse
from .messages import N_, MessageError
from .models import CUSTOM, custom_spec, get_model_spec
from .runs import Run

PROBE_FILES = 100  # per split: a folder whose first this many image-named files all fail to open is refused


def _first_image(split: Path) -> int | None:
    """None when one of the split's first PROBE_FILES image-named files opens as an image (header only),
    else how many were tried."""
    tried = 0
    for class_dir in sorted(p for p in split.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for dirpath, _dirs, files in os.walk(class_dir):
            for name in sorted(files):
                if not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                try:
                    with Image.open(os.path.join(dirpath, name)):
                        return None
                except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
                    tried += 1
                if tried >= PROBE_FILES:
                    return tried
    return tried


def data_size(source: str, data_dir: str | Path) -> int:
    """The training set's size, after checking that the source can load: CIFAR-10 must be in `data_dir` (the
    official copy) or downloadable from here; a folder must exist, have the ImageFolder layout and hold
    files that open as images. DataError or CifarError says what is wrong."""
    if source == "cifar10" and (problem := cifar_problem(data_dir)) is not None:
        raise problem
    if source in ("synthetic", "cifar10"):
        return train_size(source)
    if has_layout(source):  # CIFAR-10's files, not the official release: trained as the learner's own data
        try:
            return train_size(source)
        except Exception as e:  # noqa: BLE001 — any file that does not unpickle as CIFAR-10's
            raise DataError(
                N_("{folder} has CIFAR-10's file names but cannot be read as its files ({reason})."),
                folder=source,
                reason=str(e) or type(e).__name__,
            ) from None
    try:
        counts = inspect_image_folder(source)  # the layout, and each class's image count
        root = Path(source).expanduser()
        for split in ("train", "test"):
            if tried := _first_image(root / split):
                raise DataError(
                    N_(
                        "{folder}: none of the {tried} image files tried opens as an image (renamed or "
                        "damaged files?)."
                    ),
                    folder=str(root / split),
                    tried=tried,
                )
        return sum(counts["train"].values())
    except OSError as e:  # a folder that cannot be read (permissions, a file vanishing while listed)
        raise DataError(N_("{path} cannot be read: {reason}."), path=source, reason=e.strerror or e) from None


def run_problems(
    cfg: TrainConfig, check_device: bool = True, check_data: bool = True, size: int | None = None
) -> dict[str, ValueError]:
    """Why `cfg` cannot start, by field (the first is what the CLI reports); empty when it can.

    `check_data=False` with `size`: the caller checked the data itself (the form caches the check)."""
    problems: dict[str, ValueError] = dict(cfg.field_problems())
    if check_data and "data" not in problems:
        try:
            size = data_size(cfg.data, cfg.data_dir) if size is None else size
        except (DataError, CifarError) as e:
            problems["data"] = e
    if size is not None and "batch_size" not in problems and cfg.batch_size > size:
        problems["batch_size"] = MessageError(
            N_("Batch size {batch} is larger than the {size:,} training images."),
            batch=cfg.batch_size,
            size=size,
        )
    if cfg.model == CUSTOM and not {"layers", "data"} & set(problems) and (check_data or size is not None):
        if (problem := _outputs_problem(cfg)) is not None:
            problems["layers"] = problem
    if check_device and "device" not in problems and cfg.device != DDP_DEVICE:
        try:
            resolve_device(cfg.device)
        except DeviceError as e:
            problems["device"] = e
    return problems


def _outputs_problem(cfg: TrainConfig) -> MessageError | None:
    """A built network must end with one output per class of its data."""
    classes = 10 if cfg.data in ("cifar10", "synthetic") else len(inspect_image_folder(cfg.data)["train"])
    outputs = infer(parse(cfg.layers), custom_spec(cfg.layers).input_shape)[-1].shape
    if outputs == (1, classes):
        return None
    return MessageError(
        N_(
            "The network ends with {got} outputs but {data} has {classes} "
            "classes: end it with Linear(…, {classes})."
        ),
        got=" × ".join(map(str, outputs[1:])),
        data=cfg.data,
        classes=classes,
    )


OPTIMIZER_SLOTS = {"sgd": 1, "nesterov": 1, "adam": 2, "adamw": 2}  # state tensors per parameter, at most
FILE_OVERHEAD = 1_000_000  # bytes: the run's other files (config, summary, samples, the first events)


def checkpoint_bytes(cfg: TrainConfig, num_classes: int = 10) -> int:
    """About how much disk one checkpoint of `cfg`'s model takes, with its model.pth and the run's other
    files: the parameters are counted on the meta device (nothing is allocated)."""
    with torch.device("meta"):
        net = get_model_spec(cfg.model, cfg.layers).build(num_classes)
    weights = sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))
    return weights * (2 + OPTIMIZER_SLOTS.get(cfg.optimizer, 2)) + FILE_OVERHEAD


class NoRoom(MessageError):
    """The runs folder's disk cannot hold one checkpoint of the chosen model: refused before any folder."""


def space_problem(cfg: TrainConfig, folder: str | Path) -> NoRoom | None:
    """Why a run of `cfg` cannot start in `folder` for lack of disk space, or None (also when unknown)."""
    free = free_bytes(folder)
    try:
        needed = checkpoint_bytes(cfg)
    except Exception:  # an estimate only: a model it cannot build here is refused by the checks before this
        return None
    if free is None or free >= needed:
        return None
    return NoRoom(
        N_(
            "The disk holding {folder} has {free} free; one checkpoint of the {model} model needs about "
            "{needed}. Delete old runs (the runs table sorts by size) or set BLITZLAB_RUNS_DIR to a folder "
            "on a disk with room."
        ),
        folder=str(folder),
        free=size_text(free),
        model=cfg.model,
        needed=size_text(needed),
    )


def checkpoint_problem(run: Run) -> MessageError | None:
    """Why the run's checkpoint cannot be resumed from (unreadable, or weights that do not fit its model),
    or None (also when there is none: the run then starts from the beginning). A config.json that is not a
    run's config (`{}`, unknown keys, bad values) is named first: nothing can resume from it."""
    if (problem := run.config_problem()) is not None:
        damaged = N_("The config of run {run} is damaged, so it cannot resume: {problem}")
        return MessageError(damaged, run=run.id, problem=problem)
    if not run.checkpoint_path.exists():
        return None
    if not run.file_usable(run.checkpoint_path):
        return MessageError(N_("The checkpoint of run {run} is damaged; it cannot resume."), run=run.id)
    damaged = MessageError(N_("The config of run {run} is damaged; it cannot resume."), run=run.id)
    try:
        cfg = from_dict(run.config() or {"model": None})  # an unreadable config.json reads as {}
    except TypeError:  # keys that are not config fields
        return damaged
    if cfg.field_problems():
        return damaged
    ck = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True, mmap=True)
    classes = ck.get("classes")  # checked readable and shaped like a checkpoint above
    try:
        get_model_spec(cfg.model, cfg.layers).build(
            len(classes) if isinstance(classes, list) else 10
        ).load_state_dict(ck["model"])
    except (RuntimeError, ValueError):
        return MessageError(
            N_("The checkpoint of run {run} does not fit its {model} model; it cannot resume."),
            run=run.id,
            model=cfg.model,
        )
    return None
