"""A run's configuration, in one place: the fields with their help, the presets, and the command line.

The argparse flags are generated from `TrainConfig`'s fields, and `cli_command` writes them back, so the
form, the CLI and the "same run from a terminal" line cannot drift apart:
`config_from_args(parser().parse_args(shlex.split(cli_command(cfg))[3:])) == cfg` for any valid cfg.
"""

from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, get_type_hints

import torch

from .data import CIFAR_MEAN, CIFAR_STD, TUTORIAL_MEAN, TUTORIAL_STD
from .devices import DDP_DEVICE
from .layers import LayersError, infer, parse
from .messages import N_, MessageError
from .models import CUSTOM, MODELS, custom_spec
from .optim import OPTIMIZERS, SCHEDULES
from .paths import data_dir, runs_dir

AMP = ("off", "bf16", "fp16")
# the range of each number a run accepts (inclusive; EXCLUSIVE: a bound that is itself refused), so that a
# typo (lr 1e9, 10⁶ epochs) is refused before a run starts; the form's inputs read the same limits
LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (0, 1000),
    "batch_size": (1, 65_536),
    "lr": (0, 10.0),
    "momentum": (0, 1),
    "weight_decay": (0, 1.0),
    "norm_bias_lr_scale": (0, 1000.0),
    "label_smoothing": (0, 1),
    "crop_pad": (0, 8),
    "seed": (0, 2**63 - 1),
}
EXCLUSIVE = {"epochs": 0, "lr": 0, "momentum": 1, "norm_bias_lr_scale": 0, "label_smoothing": 1}
WHOLE = ("batch_size", "crop_pad", "seed")  # whole numbers only
LIMIT_MESSAGES = {
    "epochs": N_("Epochs must be a positive number, at most {high}."),
    "batch_size": N_("Batch size must be a whole number from {low} to {high}."),
    "lr": N_("Learning rate must be a positive number, at most {high}."),
    "momentum": N_("Momentum must be at least {low} and less than {high}."),
    "weight_decay": N_("Weight decay must be from {low} to {high}."),
    "norm_bias_lr_scale": N_("The norm-bias learning-rate scale must be a positive number, at most {high}."),
    "label_smoothing": N_("Label smoothing must be at least {low} and less than {high}."),
    "crop_pad": N_("Crop padding must be a whole number of pixels from {low} to {high}."),
    "seed": N_("Seed must be a whole number from {low} to {high}."),
}


def _field(default: Any, help: str, choices: tuple[str, ...] | None = None, factory: Any = None) -> Any:
    """A config field whose help text (and choices) the CLI reads; `factory` for defaults read at runtime."""
    meta = {"help": help, "choices": choices}
    return field(default_factory=factory, metadata=meta) if factory else field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    # data: where the images come from and how they are normalised
    data: str = _field(
        "synthetic", "cifar10 | synthetic | PATH to an ImageFolder-layout folder (train/, test/)"
    )
    data_dir: str = _field(None, "where CIFAR-10 and decoded caches live", factory=lambda: str(data_dir()))
    mean: tuple[float, ...] = _field(TUTORIAL_MEAN, "per-channel mean subtracted from the 0-1 pixels")
    std: tuple[float, ...] = _field(TUTORIAL_STD, "per-channel std the pixels are divided by")
    # model and device
    model: str = _field("tutorial", "the network", (*MODELS, CUSTOM))
    layers: str = _field("", "--model custom: its layers, e.g. 'Conv2d(3, 6, 5) | ReLU | MaxPool2d(2) | …'")
    preset: str = _field("", "the preset these values started from (empty: custom)")
    device: str = _field("auto", "cpu | cuda | cuda:N | mps | auto")
    # the recipe: how long, how big a batch, which optimizer and schedule
    epochs: float = _field(2, "a whole number, or a fraction such as 0.5 (half an epoch)")
    batch_size: int = _field(4, "images per optimizer step")
    optimizer: str = _field(
        "sgd", "sgd (SGD+momentum when --momentum > 0), nesterov, adam, adamw", OPTIMIZERS
    )
    lr: float = _field(0.001, "learning rate (the peak, under a schedule)")
    momentum: float = _field(0.9, "momentum (sgd, nesterov) or beta1 (adam, adamw), in [0, 1)")
    weight_decay: float = _field(0.0, "L2 penalty on the weights, ≥ 0")
    norm_bias_lr_scale: float = _field(1.0, "batch-norm shifts learn this many times faster (airbench: 64)")
    schedule: str = _field("constant", "how the learning rate changes over the run", SCHEDULES)
    label_smoothing: float = _field(0.0, "share of each target spread over the other classes, in [0, 1)")
    # augmentation and speed tricks
    flip: bool = _field(False, "augment: random horizontal flip")
    crop_pad: int = _field(0, "augment: pad by this many pixels (0-8), crop back to 32x32 at random")
    tta: bool = _field(False, "test-time augmentation: average with the flipped image")
    amp: str = _field("off", "autocast dtype: bf16 (CPU or CUDA) / fp16 (CUDA)", AMP)
    channels_last: bool = _field(False, "channels-last memory format (faster convolutions on many devices)")
    seed: int = _field(0, "random seed: initial weights, batch order, augmentation")

    def __post_init__(self) -> None:
        if isinstance(self.epochs, float) and self.epochs.is_integer():
            self.epochs = int(self.epochs)  # "2", not "2.0", in run names, tables and the CLI line

    def field_problems(self) -> dict[str, MessageError]:
        """Every invalid value, by field, as messages a form or the CLI can show (`str(e)`: English).

        Values read back from a hand-edited config.json may have any JSON type, so types are checked too."""
        p: dict[str, MessageError] = {}
        for name, (low, high) in LIMITS.items():
            value, whole = getattr(self, name), name in WHOLE
            number = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
            if not (
                number and math.isfinite(value) and low <= value <= high and value != EXCLUSIVE.get(name)
            ):
                p[name] = MessageError(LIMIT_MESSAGES[name], low=low, high=high)
        choices = {
            "model": ((*MODELS, CUSTOM), N_("Model must be one of {choices}.")),
            "optimizer": (OPTIMIZERS, N_("Optimizer must be one of {choices}.")),
            "schedule": (SCHEDULES, N_("Schedule must be one of {choices}.")),
            "amp": (AMP, N_("Amp must be one of {choices}.")),
            "preset": ((*PRESETS, ""), N_("Preset must be one of {choices}.")),
        }
        for name, (allowed, message) in choices.items():
            if getattr(self, name) not in allowed:
                p[name] = MessageError(message, choices=", ".join(a for a in allowed if a))
        for name, message in (
            ("mean", N_("Mean must be 1 or 3 finite numbers (one per channel).")),
            ("std", N_("Std must be 1 or 3 finite numbers (one per channel).")),
        ):
            values = getattr(self, name)
            numbers = isinstance(values, tuple) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
            )
            if not (numbers and len(values) in (1, 3)):
                p[name] = MessageError(message)
            elif name == "std" and not all(v > 0 for v in values):
                p[name] = MessageError(N_("Std must be positive."))
        for name in ("flip", "tta", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                p[name] = MessageError(N_("--{flag} must be true or false."), flag=name.replace("_", "-"))
        if (problem := self.layers_problem()) is not None:
            p["layers"] = problem
        for name in ("data", "data_dir", "device"):
            if not isinstance(getattr(self, name), str):
                p[name] = MessageError(N_("--{flag} must be text."), flag=name.replace("_", "-"))
        return p

    def layers_problem(self) -> MessageError | None:
        """--layers must describe a network that takes a 32×32 image when the model is custom, and is for
        the custom model only."""
        if not isinstance(self.layers, str):
            return MessageError(N_("--{flag} must be text."), flag="layers")
        if self.model != CUSTOM:
            return MessageError(N_("--layers is for --model custom only.")) if self.layers else None
        try:
            spec = custom_spec(self.layers)
            infer(parse(self.layers), spec.input_shape)
        except LayersError as e:
            return e
        return None

    def problems(self) -> list[str]:
        return [str(e) for e in self.field_problems().values()]


@dataclass(frozen=True)
class Preset:
    description: str
    values: dict[str, Any] = field(default_factory=dict)


# airbench94's hyper-parameters (lr per mean loss)
AIRBENCH = dict(
    optimizer="nesterov",
    lr=1.5,
    momentum=0.85,
    weight_decay=1.3e-3,
    norm_bias_lr_scale=64.0,
    schedule="linear",
    label_smoothing=0.2,
    flip=True,
    crop_pad=2,
    tta=True,
    amp="bf16",
    channels_last=True,
    mean=CIFAR_MEAN,
    std=CIFAR_STD,
)

PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        N_("The tutorial's recipe exactly: Net, batch 4, SGD lr 0.001 momentum 0.9, 2 epochs."),
        dict(
            model="tutorial",
            epochs=2,
            batch_size=4,
            optimizer="sgd",
            lr=0.001,
            momentum=0.9,
            weight_decay=0.0,
            norm_bias_lr_scale=1.0,
            schedule="constant",
            label_smoothing=0.0,
            flip=False,
            crop_pad=0,
            tta=False,
            amp="off",
            channels_last=False,
            mean=TUTORIAL_MEAN,
            std=TUTORIAL_STD,
        ),
    ),
    "fast-cpu": Preset(
        N_(
            "airbench94's recipe on a small network (airbench-mini): whitened input, nesterov SGD with "
            "fast batch-norm shifts, label smoothing, flip + translate, bf16, batch 256, 10 epochs, "
            "flip at test time: about 85 % in 3-4 minutes on 2 CPU cores. For a budget under a "
            "minute, batch 128 learns more per second (56 % in 4 s, 71 % in 15 s)."
        ),
        dict(model="airbench-mini", epochs=10, batch_size=256, **AIRBENCH | dict(lr=0.5)),
    ),
    "fast-gpu": Preset(
        N_(
            "airbench94 on CUDA: the full-width network, bf16, batch 1024, 10 epochs. Measured on one H200: "
            "90 % in 3-5 s of training on a JPEG copy of CIFAR-10 (airbench94 reports 94 % on the original)."
        ),
        dict(model="airbench", epochs=10, batch_size=1024, **AIRBENCH),
    ),
}
PRESET_NAMES = tuple(PRESETS)


def make_config(preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the preset's values, then explicit overrides (None means "not given")."""
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset '{preset}'. Available: {', '.join(PRESETS)}.")
        values.update(PRESETS[preset].values, preset=preset)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A config read back from JSON (config.json): lists become tuples; an unknown key is a TypeError."""
    return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# --- the command line, generated from the fields ---------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _number(kind: type):
    """An argparse type for int / float that also refuses nan and inf (argparse names the flag)."""

    def parse(text: str):
        value = kind(text)  # ValueError → "argument --lr: invalid float value: 'abc'"
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"needs a finite number, not '{text}'")
        return value

    parse.__name__ = kind.__name__
    return parse


def positive_int(text: str) -> int:
    """An argparse type for a count of at least 1 (--threads; the benches' repeats)."""
    value = int(text)  # ValueError → "argument --threads: invalid int value: 'abc'"
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs a whole number of at least 1, not '{text}'")
    return value


positive_int.__name__ = "int"


class OneLineParser(argparse.ArgumentParser):
    """Bad flags end in one line naming the flag and exit status 2, not the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (`--preset` applies the preset's values); all default to "not given"."""
    hints = get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        flag, kind, meta = _flag(f.name), hints[f.name], f.metadata
        default = f.default if f.default is not MISSING else f.default_factory()
        helptext = (
            f"{meta['help']} (default: {default})" if f.name != "data" else f"{meta['help']} (required)"
        )
        helptext = helptext.replace("%", "%%")  # argparse formats help with %
        if f.name == "preset":
            described = "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())
            p.add_argument(
                flag, choices=PRESET_NAMES, help=f"start from these values. {described}".replace("%", "%%")
            )
        elif kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=helptext)
        elif kind in (int, float):
            p.add_argument(flag, type=_number(kind), metavar=f.name.upper(), help=helptext)
        elif kind == tuple[float, ...]:
            p.add_argument(flag, type=_number(float), nargs="+", metavar="X", help=helptext)
        else:
            p.add_argument(flag, choices=meta["choices"], help=helptext)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config a parsed command line asks for: defaults < --preset < explicit flags."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "preset"}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    return make_config(args.preset, **given)


def launcher(cfg: TrainConfig) -> str:
    if cfg.device != DDP_DEVICE:
        return "python -m core.train"
    return f"torchrun --standalone --nproc_per_node={max(torch.cuda.device_count(), 2)} -m core.train"


def cli_command(cfg: TrainConfig) -> str:
    """The `python -m core.train …` line that reproduces `cfg`: the preset, then only what differs from it."""
    base = make_config(cfg.preset or None)
    parts = [launcher(cfg), f"--data {shlex.quote(cfg.data)}"]
    if cfg.preset:
        parts.append(f"--preset {cfg.preset}")
    for name, value in asdict(cfg).items():
        if name in ("data", "preset") or value == getattr(base, name):
            continue
        flag = _flag(name)
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, tuple):
            parts.append(" ".join([flag, *(repr(float(v)) for v in value)]))
        else:
            parts.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


def parser() -> argparse.ArgumentParser:
    """`python -m core.train`'s arguments: every config field, then where the run goes and how to report."""
    p = OneLineParser(
        prog="python -m core.train",
        description="Train a CIFAR-10-style classifier into a run folder. "
        "Values: defaults < --preset < explicit flags.",
    )
    add_config_flags(p)
    p.add_argument("--runs-dir", default=str(runs_dir()), help="where run folders go (env BLITZLAB_RUNS_DIR)")
    p.add_argument("--name", help="a label for the run, part of its folder name")
    p.add_argument(
        "--resume", metavar="RUN_ID", help="continue a stopped or interrupted run from its checkpoint"
    )
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # train into a run folder the app prepared
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="CPU threads to train with (default: every core this process may use)",
    )
    return p
