"""The PyTorch code of a run's recipe, generated from its config, in the tutorial's order.

Data (load, normalise, mini-batches), the network class, loss function and optimizer (and schedule), the
training loop, saving, test accuracy overall and per class. One generator, two outputs: `recipe_code(cfg)`
is shown beside a run (its settings written as values), and `export_script(cfg)` is the same program with
a command line (what `python -m core.export` prints). The network classes and the helpers the fast recipes
use are the engine's own source (inspect.getsource); the other lines do what core/trainer.py and
core/batches.py do, in the same order (seeded shuffles, chunked preparation), and tests/test_export.py
checks that both train the same weights. For the `tutorial` preset it reads like the tutorial's chapter 4;
every line a faster recipe adds has a comment. `recipe_code(cfg, lang)` writes its comments (the engine's own
source's too) in the learner's language, its code the same in every language; the exported script stays in
English. The output is laid out as ruff format would (line length 110; a longer comment wraps).
"""

from __future__ import annotations

import functools
import inspect
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from . import models
from .batches import CHUNK_IMAGES
from .catalogs import translations
from .config import TrainConfig
from .console import ACCURACY_LINE, CLASS_LINE, FINISHED, IMAGES_PER_LINE, LOSS_LINE, TUTORIAL_BATCH_SIZE
from .data import IMAGE_SIZE, SYNTHETIC_CLASSES, augment, class_mask, make_synthetic, shapes
from .devices import SMALL_BATCH
from .layers import net_code, parse
from .messages import N_
from .models import WHITEN_BIAS_TRAIN
from .optim import param_groups, warmup_linear

# how each registered model is built, as code (tests check that every model of core.models.MODELS is here
# and that the code builds the same state_dict keys and shapes)
CONSTRUCTORS = {
    "tutorial": "Net({classes})",
    "lenet": "LeNet({classes})",
    "resnet9-mini": "ResNet9({classes}, width=16)",
    "resnet9": "ResNet9({classes}, width=64)",
    "airbench-mini": "Airbench({classes}, widths=(32, 64, 64))",
    "airbench": "Airbench({classes}, widths=(64, 256, 256))",
}
LINE = 110  # the longest line the layout aims for
TEST_BATCH = 1000  # test images per forward pass (core.evaluate's default)
AUTO = '"cuda:0" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"'
SOURCE_HELP = {
    "cifar10": N_("cifar10 (downloaded by torchvision)"),
    "synthetic": N_("synthetic (generated demo shapes)"),
    "folder": N_("PATH: a folder with train/<class>/* and test/<class>/*"),
}
SMALL_BATCH_NOTE = N_("below batch {size} PyTorch's own convolution beats oneDNN's (more setup per call)")
LOAD_CALLS = {
    "cifar10": "load_cifar10(data_dir)",
    "synthetic": "make_shapes()",
    "folder": "load_folder(data_source)",
}
# the forward pass under autocast: the `with` line, and the comment that says why
AUTOCAST = {
    "bf16": (
        'with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type in ("cpu", "cuda")):',
        N_(
            "bf16 autocast: matrix products and convolutions in bfloat16 (about twice as fast where the\n"
            "hardware has it); the weights and the loss stay float32"
        ),
    ),
    "fp16": (
        'with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):',
        N_("fp16 autocast (CUDA): matrix products and convolutions in float16; the weights stay float32"),
    ),
}
# the comments in the engine's source that the program shows (core.models, core.data), translated in place
ENGINE_COMMENTS = (
    N_("flatten all dimensions except batch"),
    N_("1 input image channel, 6 output channels, 5x5 square convolution kernel"),
    N_("an affine operation: y = Wx + b"),
    N_("5*5 from image dimension"),
    N_("scaled logits, as in the original recipe, keep early softmax from saturating"),
    N_("dirac init: the group starts close to passing its input through"),
    N_("2×2 patches → 12 eigen-directions, ± each"),
    N_("at least 0.35 away per channel"),
    N_("only the shape of each image's own class is drawn"),
)


def recipe_code(cfg: TrainConfig, lang: str = "en") -> str:
    """The run's recipe as PyTorch code, its settings written as values and its comments in `lang`. Raises
    the config's first MessageError (core.config) when it is not a valid recipe."""
    return Program(cfg, script=False, lang=lang).code()


def export_script(cfg: TrainConfig, run_id: str = "") -> str:
    """The standalone script that trains `cfg`'s recipe (the config's first MessageError when invalid)."""
    recipe = f"the {cfg.preset} preset" if cfg.preset else "a custom recipe"
    model = constructor(cfg).split("(")[0]
    origin = f"Blitz Lab run {run_id}" if run_id else "Blitz Lab"
    data = cfg.data.replace("\\", "/").replace('"', "'")  # a path, inside a docstring
    doc = f'''"""Train {cfg.model} on {data} with {recipe}, in PyTorch alone (from {origin}).

Needs torch and torchvision. Prints the tutorial's loss lines, then the test accuracy overall and per
class, and saves the trained weights (a state_dict of {model}) to model.pth:

    python this_script.py                                      # the run's own recipe and data
    python this_script.py --epochs 0.5 --data path/to/folder   # half an epoch on folder/train/<class>/*
    python this_script.py --help                               # every setting
"""'''
    return doc + "\n\n" + Program(cfg, script=True).code()


@dataclass
class Program:
    """The program for `cfg`; `script` gives it a command line and lets it also read an image folder;
    `lang`: the language of its comments."""

    cfg: TrainConfig
    script: bool
    lang: str = "en"
    loaders: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if problems := self.cfg.field_problems():
            raise next(iter(problems.values()))
        self.spec = models.get_model_spec(self.cfg.model, self.cfg.layers)
        self.has_norm, self.whitens = _model_traits(self.cfg.model, self.cfg.layers)
        data = self.cfg.data
        self.source = data if data in ("cifar10", "synthetic") else "folder"
        self.loaders = [self.source] + (["folder"] if self.script and self.source != "folder" else [])

    def code(self) -> str:
        sections = [
            self.imports(),
            self.settings(),
            self.data(),
            self.network(),
            self.loss_and_optimizer(),
            self.training(),
            self.saving(),
            self.testing(),
        ]
        code = "\n\n\n".join(_join(chunks) for chunks in sections) + "\n"
        for comment in ENGINE_COMMENTS if self.lang != "en" else ():
            code = code.replace(f"# {comment}", f"# {self.note(comment)}")
        return code

    def note(self, message: str, **values: object) -> str:
        """A comment's text (an N_ message) in the program's language, its values filled in."""
        text = translations(self.lang).gettext(message)
        return text.format(**values) if values else text

    # --- the sections, in the tutorial's order; each a list of chunks (see _join) -----------------------

    def imports(self) -> list[str]:
        lines = ["from __future__ import annotations", "", "import argparse"] if self.script else []
        lines += ["import math"] + (["import os"] if "folder" in self.loaders else []) + ["import time"]
        lines += [
            "",
            "import torch",
            "import torch.nn as nn",
            "import torch.nn.functional as F",
            "import torch.optim as optim",
            *(["import torchvision"] if self.loaders != ["synthetic"] else []),
            "import torchvision.transforms as transforms",
        ]
        return ["\n".join(lines)]

    def settings(self) -> list[str]:
        cfg = self.cfg
        if self.script:
            return [self._command_line()]
        if cfg.device in ("auto", "ddp"):
            device = _call("device = torch.device", [AUTO])
        else:
            device = f"device = torch.device({_str(cfg.device)})"
        note = self.note
        lines = [
            _comment(note(N_("Settings"))),
            _trailing(f"data_source = {_str(cfg.data)}", note(SOURCE_HELP[self.source])),
        ]
        if self.source == "cifar10":
            lines.append(
                _trailing(
                    'data_dir = "./data"',
                    note(N_("CIFAR-10 is downloaded here (about 163 MB) the first time")),
                )
            )
        lines += [
            _trailing(f"epochs = {cfg.epochs!r}", note(N_("a fraction trains part of an epoch"))),
            f"batch_size = {cfg.batch_size}",
            _trailing(
                f"seed = {cfg.seed}",
                note(N_("the same initial weights, batch order and augmentation every time")),
            ),
            device,
            'model_path = "model.pth"',
        ]
        return ["\n".join(lines)]

    def _command_line(self) -> str:
        cfg = self.cfg
        device = "auto" if cfg.device in ("auto", "ddp") else cfg.device
        data_help = " | ".join(SOURCE_HELP[s] for s in self.loaders)
        arg = lambda *args: _call("parser.add_argument", list(args))
        lines = [
            "# Settings: the run's values; each can be changed on the command line (--help)",
            "parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
            arg('"--data"', f"default={_str(cfg.data)}", f"help={_str(data_help)}"),
        ]
        if "cifar10" in self.loaders:
            lines.append(
                arg('"--data-dir"', 'default="./data"', 'help="where CIFAR-10 is kept or downloaded"')
            )
        lines += [
            arg(
                '"--epochs"',
                "type=float",
                f"default={cfg.epochs!r}",
                'help="a fraction trains part of an epoch"',
            ),
            arg('"--batch-size"', "type=int", f"default={cfg.batch_size}"),
            arg('"--seed"', "type=int", f"default={cfg.seed}"),
            arg(
                '"--device"',
                f"default={_str(device)}",
                'help="auto (cuda:0, else mps, else cpu), cpu, cuda:1, mps"',
            ),
            arg('"--out"', 'default="model.pth"', 'help="where the trained weights are saved"'),
            "args = parser.parse_args()",
            "data_source, epochs, batch_size, seed = args.data, args.epochs, args.batch_size, args.seed",
        ]
        if "cifar10" in self.loaders:
            lines.append("data_dir = args.data_dir")
        lines += [
            f"auto = {AUTO}",
            'device = torch.device(auto if args.device == "auto" else args.device)',
            "model_path = args.out",
        ]
        return "\n".join(lines)

    def data(self) -> list[str]:
        cfg, note = self.cfg, self.note
        chunks = [LOADERS[name]() for name in self.loaders]
        heading = note(N_("1. Data: load the images, normalise them, cut them into mini-batches"))
        chunks[0] = _comment(heading) + "\n" + chunks[0]
        names = "train_x, train_y, test_x, test_y, classes"
        if len(self.loaders) == 1:
            load = f"{names} = {LOAD_CALLS[self.source]}"
        else:
            load = (
                f"if data_source == {_str(self.source)}:\n    {names} = {LOAD_CALLS[self.source]}\n"
                f"else:  # a folder\n    {names} = {LOAD_CALLS['folder']}"
            )
        channels = self.spec.in_channels
        one_channel = note(N_("this network takes one channel"))
        gray = [_trailing("        transforms.Grayscale(),", one_channel)] if channels == 1 else []
        mean, std = tuple(cfg.mean[:channels]), tuple(cfg.std[:channels])
        if mean == std == (0.5,) * len(mean):
            stats = note(N_("mean and std: the tutorial's: 0..1 → -1..1"))
        else:
            stats = note(N_("mean and std: per channel"))
        on_device = N_("the whole data set on the device: each mini-batch is a slice of it, no copy per step")
        chunks.append(
            "\n".join(
                [
                    load,
                    _comment(note(on_device)),
                    "train_x, train_y, test_x, test_y = "
                    "(t.to(device) for t in (train_x, train_y, test_x, test_y))",
                ]
            )
        )
        chunks.append(
            "\n".join(
                [
                    "normalize = transforms.Compose(",
                    "    [",
                    _trailing(
                        "        transforms.ConvertImageDtype(torch.float32),",
                        note(N_("uint8 0..255 → float 0..1")),
                    ),
                    *gray,
                    _trailing(f"        transforms.Normalize({_floats(mean)}, {_floats(std)}),", stats),
                    "    ]",
                    ")",
                ]
            )
        )
        if cfg.flip or cfg.crop_pad:
            if not cfg.crop_pad:
                what = note(N_("augmentation, new every epoch: a random horizontal flip"))
            elif not cfg.flip:
                what = note(
                    N_("augmentation, new every epoch: a random shift by up to {pixels} pixels"),
                    pixels=cfg.crop_pad,
                )
            else:
                what = note(
                    N_(
                        "augmentation, new every epoch: a random horizontal flip and a random shift by up to "
                        "{pixels} pixels"
                    ),
                    pixels=cfg.crop_pad,
                )
            chunks.append(f"{_comment(what)}\n{_source(augment)}")
        return chunks + self._batches()

    def _batches(self) -> list[str]:
        cfg, note = self.cfg, self.note
        inputs = "        inputs = normalize(train_x[rows])"
        if cfg.flip or cfg.crop_pad:
            inputs = _trailing(
                "        inputs = normalize(augment(train_x[rows], "
                f"flip={cfg.flip}, crop_pad={cfg.crop_pad}, g=g))",
                note(N_("new every epoch")),
            )
        steps = "\n".join(
            [
                _trailing(
                    "steps_per_epoch = math.ceil(len(train_y) / batch_size)",
                    note(N_("the last one may be smaller")),
                ),
                "total_steps = max(1, round(epochs * steps_per_epoch))",
                _trailing(
                    f"chunk_steps = max(1, {CHUNK_IMAGES} // batch_size)",
                    note(N_("mini-batches prepared at a time")),
                ),
            ]
        )
        lines = [
            "def batches(epoch):",
            '    """One epoch\'s mini-batches (what a shuffling DataLoader does): a new order every epoch,',
            "    seeded by (seed, epoch); images prepared a chunk at a time, a few big tensor operations",
            '    instead of one per mini-batch."""',
            "    g = torch.Generator(device).manual_seed(seed * 1_000_003 + epoch)",
            "    order = torch.randperm(len(train_y), device=device, generator=g)",
            _trailing(
                "    steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)",
                note(N_("the last: maybe less")),
            ),
            "    for first in range(0, steps, chunk_steps):",
            "        rows = order[first * batch_size : min(first + chunk_steps, steps) * batch_size]",
            inputs,
            "        labels = train_y[rows]",
        ]
        if cfg.channels_last:
            lines.append(
                _trailing(
                    "        inputs = inputs.contiguous(memory_format=torch.channels_last)",
                    note(N_("as the network")),
                )
            )
        lines += [
            "        for start in range(0, len(rows), batch_size):",
            "            yield inputs[start : start + batch_size], labels[start : start + batch_size]",
        ]
        return [steps, "\n".join(lines)]

    def network(self) -> list[str]:
        cfg, note = self.cfg, self.note
        build = constructor(cfg).format(classes="len(classes)")
        lines = [_trailing("torch.manual_seed(seed)", note(N_("the initial weights")))]
        if cfg.channels_last:
            why = N_("channels-last: each pixel's channels side by side in memory, as fast convolutions like")
            lines += [_comment(note(why)), f"net = {build}.to(device, memory_format=torch.channels_last)"]
        else:
            lines.append(f"net = {build}.to(device)")
        if self.whitens:
            why = N_("whitening: the frozen first layer decorrelates 2×2 patches of these training images")
            lines += [_comment(note(why)), "net.init_whitening(normalize(train_x[:5000]))"]
        if cfg.model == models.CUSTOM:  # a network built from its layers: its class, as the builder shows it
            source = net_code(parse(cfg.layers), self.spec.input_shape)
        else:
            source = class_sources(cfg.model)
        return [_comment(note(N_("2. The network"))) + "\n" + source, "\n".join(lines)]

    def loss_and_optimizer(self) -> list[str]:
        cfg, note = self.cfg, self.note
        lines = [_comment(note(N_("3. Loss function and optimizer")))]
        if cfg.label_smoothing:
            smoothing = N_(
                "label smoothing: each target spreads {share} of its weight evenly over all classes"
            )
            lines += [
                _comment(note(smoothing, share=f"{cfg.label_smoothing:.0%}")),
                f"criterion = nn.CrossEntropyLoss(label_smoothing={cfg.label_smoothing!r})",
            ]
        else:
            lines.append("criterion = nn.CrossEntropyLoss()")
        chunks = ["\n".join(lines)]
        params = "net.parameters()"
        if cfg.norm_bias_lr_scale != 1:
            scale = f"{cfg.norm_bias_lr_scale:g}"
            faster = N_(
                "batch-norm shifts learn {scale}× faster than the other weights (and decay {scale}× less)"
            )
            chunks.append(_comment(note(faster, scale=scale)) + "\n" + _source(param_groups))
            params = f"param_groups(net, {cfg.lr!r}, {cfg.weight_decay!r}, {cfg.norm_bias_lr_scale!r})"
        args = [params, f"lr={cfg.lr!r}"]
        if cfg.optimizer == "sgd":
            args.append(f"momentum={cfg.momentum!r}")
        if cfg.optimizer == "nesterov":  # core.optim: nesterov without momentum would be plain SGD
            args += [f"momentum={cfg.momentum or 0.9!r}", "nesterov=True"]
        if cfg.norm_bias_lr_scale == 1 and (cfg.weight_decay or cfg.optimizer == "adamw"):
            args.append(f"weight_decay={cfg.weight_decay!r}")  # AdamW's own default is not 0
        args.append('fused=device.type in ("cpu", "cuda")')
        kind = {"sgd": "SGD", "nesterov": "SGD", "adam": "Adam", "adamw": "AdamW"}[cfg.optimizer]
        fused = N_("fused: one kernel updates every weight (the same arithmetic as a loop over them)")
        chunks.append(_comment(note(fused)) + "\n" + _call(f"optimizer = optim.{kind}", args))
        return chunks + SCHEDULES[cfg.schedule](note)

    def training(self) -> list[str]:
        cfg, note = self.cfg, self.note
        autocast = AUTOCAST.get(cfg.amp)
        inner = " " * (12 if autocast else 8)
        every = "print_every"
        loss_line = lambda loss: _fstring(LOSS_LINE, epoch="epoch + 1", batch="i + 1", loss=loss)
        per_line = note(
            N_("a loss line every ~{images} images ({batches} mini-batches of {size})"),
            images=f"{IMAGES_PER_LINE:,}",
            batches=f"{IMAGES_PER_LINE // TUTORIAL_BATCH_SIZE:,}",
            size=TUTORIAL_BATCH_SIZE,
        )
        setup = [
            _comment(note(N_("4. Train: every epoch, every mini-batch: forward, loss, backward, step"))),
            _trailing(f"print_every = max(1, round({IMAGES_PER_LINE} / batch_size))", per_line),
        ]
        if self.whitens:
            bias = N_("the whitening layer's bias learns during the first {share} of steps only")
            setup += [
                _comment(note(bias, share=f"{WHITEN_BIAS_TRAIN:.0%}")),
                f"freeze_whiten_at = round({WHITEN_BIAS_TRAIN!r} * total_steps)",
            ]
        if cfg.amp == "fp16":
            setup.append('scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")')
        setup.append('if device.type == "cpu":')
        # under bf16 autocast oneDNN wins at every batch size (see core/devices.py); fp16 is CUDA's only
        if cfg.amp != "bf16":
            setup += [
                _comment(note(SMALL_BATCH_NOTE, size=SMALL_BATCH), "    "),
                f"    torch.backends.mkldnn.enabled = batch_size >= {SMALL_BATCH}",
            ]
        setup += [
            _comment(
                note(N_("tiny values early in training are denormal floats, slow on x86: flush them to 0")),
                "    ",
            ),
            "    torch.set_flush_denormal(True)",
        ]
        loop = [
            "start_time = time.perf_counter()",
            "for epoch in range(math.ceil(total_steps / steps_per_epoch)):",
            "    running_loss = 0.0",
            "    for i, (inputs, labels) in enumerate(batches(epoch)):",
        ]
        if self.whitens:
            loop += [
                _trailing(
                    "        if epoch * steps_per_epoch + i == freeze_whiten_at:",
                    note(N_("the whitening bias stops")),
                ),
                "            net.whiten.bias.requires_grad_(False)",
            ]
        loop.append("        optimizer.zero_grad()")
        if autocast:
            loop += [_comment(note(autocast[1]), "        "), f"        {autocast[0]}"]
        loop += [f"{inner}outputs = net(inputs)", f"{inner}loss = criterion(outputs, labels)"]
        if cfg.amp == "fp16":
            loop += [
                _trailing(
                    "        scaler.scale(loss).backward()",
                    note(N_("fp16: the loss scaled up, small gradients stay > 0")),
                ),
                "        scaler.step(optimizer)",
                "        scaler.update()",
            ]
        else:
            loop += ["        loss.backward()", "        optimizer.step()"]
        if cfg.schedule != "constant":
            loop.append(_trailing("        scheduler.step()", note(N_("the learning rate of the next step"))))
        loop += [
            _trailing(
                "        running_loss += loss.detach()",
                note(N_("on the device: .item() would wait for it every step")),
            ),
            f"        if i % {every} == {every} - 1:",
            f"            print({loss_line('running_loss / ' + every)})",
            "            running_loss = 0.0",
            _trailing(
                f"    if i < {every} - 1:",
                note(N_("an epoch shorter than print_every mini-batches: one line at its end")),
            ),
            f"        print({loss_line('running_loss / (i + 1)')})",
            'if device.type == "cuda":',
            _trailing(
                "    torch.cuda.synchronize()",
                note(N_("the GPU's queued work finishes before the clock is read")),
            ),
            "train_seconds = time.perf_counter() - start_time",
            f"print({_str(FINISHED)})",
            'print(f"(training took {train_seconds:.1f} s)")',
        ]
        return ["\n".join(setup), "\n".join(loop)]

    def saving(self) -> list[str]:
        name = constructor(self.cfg).split("(")[0]
        save = N_(
            "5. Save the weights; load them with net = {name}(...); "
            "net.load_state_dict(torch.load(model_path))"
        )
        return [_comment(self.note(save, name=name)) + "\ntorch.save(net.state_dict(), model_path)"]

    def testing(self) -> list[str]:
        cfg, note = self.cfg, self.note
        autocast = AUTOCAST.get(cfg.amp)
        inner = " " * (12 if autocast else 8)
        images = f"images = normalize(test_x[start : start + {TEST_BATCH}])"
        if cfg.channels_last:
            images += ".contiguous(memory_format=torch.channels_last)"
        lines = [_comment(note(N_("6. Test: accuracy on the test images, overall and per class")))]
        if self.has_norm:
            lines.append(
                _trailing("net.eval()", note(N_("batch-norm uses the statistics it gathered in training")))
            )
        lines += [
            "correct = torch.zeros(len(classes), dtype=torch.long, device=device)",
            "total = torch.zeros(len(classes), dtype=torch.long, device=device)",
            "with torch.no_grad():",
            f"    for start in range(0, len(test_y), {TEST_BATCH}):",
            f"        {images}",
            f"        labels = test_y[start : start + {TEST_BATCH}]",
        ]
        if autocast:
            lines.append(f"        {autocast[0]}")
        lines.append(f"{inner}outputs = net(images).float()")
        if cfg.tta:
            flip = N_("flip at test time: the mean of the outputs for each image and its mirror image")
            lines += [
                _comment(note(flip), inner),
                f"{inner}outputs = (outputs + net(images.flip(3)).float()) / 2",
            ]
        overall = _fstring(ACCURACY_LINE, images="len(test_y)", percent="accuracy")
        lines += [
            "        predicted = outputs.argmax(1)",
            "        total += torch.bincount(labels, minlength=len(classes))",
            "        correct += torch.bincount(labels[predicted == labels], minlength=len(classes))",
            "accuracy = 100 * int(correct.sum()) // len(test_y)",
            f"print({overall})",
            "for name, right, count in zip(classes, correct.tolist(), total.tolist()):",
            f"    print({_fstring(CLASS_LINE, name='name', percent='100 * right / max(count, 1)')})",
        ]
        return ["\n".join(lines)]


# --- the data loaders --------------------------------------------------------------------------------


def _load_cifar10() -> str:
    return '''def load_cifar10(root):
    """CIFAR-10 (downloaded into `root` the first time) as uint8 images N×3×32×32, labels, class names."""
    splits = [torchvision.datasets.CIFAR10(root=root, train=train, download=True) for train in (True, False)]
    tensors = []
    for split in splits:  # split.data: numpy, N×32×32×3
        images = torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous()
        tensors += [images, torch.tensor(split.targets)]
    return *tensors, splits[0].classes'''


def _load_folder() -> str:
    size = IMAGE_SIZE
    return f'''def load_folder(root):
    """An image folder (root/train/<class>/*, root/test/<class>/*) as uint8 images N×3×{size}×{size}, labels,
    class names. Each image is decoded once: its short side resized to {size}, then its centre cut out."""
    to_tensor = transforms.Compose(
        [transforms.Resize({size}), transforms.CenterCrop({size}), transforms.PILToTensor()]
    )
    splits = [
        torchvision.datasets.ImageFolder(os.path.join(root, name), transform=to_tensor)
        for name in ("train", "test")
    ]
    tensors = []
    for split in splits:
        images, labels = zip(*split)
        tensors += [torch.stack(images), torch.tensor(labels)]
    return *tensors, splits[0].classes'''


def _make_shapes() -> str:
    defaults = inspect.signature(make_synthetic).parameters
    n_train, n_test, seed = (defaults[k].default for k in ("n_train", "n_test", "seed"))
    classes = _call("SHAPE_CLASSES = ", [_str(c) for c in SYNTHETIC_CLASSES], "[]")
    return _join(
        [
            f"IMAGE_SIZE = {IMAGE_SIZE}\n{classes}",
            _source(shapes),
            _source(class_mask),
            "\n".join(
                [
                    f"def make_shapes(n_train={n_train}, n_test={n_test}, seed={seed}):",
                    '    """The demo data set, generated: 10 balanced classes of shapes and stripes."""',
                    "    g = torch.Generator().manual_seed(seed)",
                    "    train_y = torch.arange(n_train) % len(SHAPE_CLASSES)",
                    "    test_y = torch.arange(n_test) % len(SHAPE_CLASSES)",
                    "    train_y = train_y[torch.randperm(n_train, generator=g)]",
                    "    return shapes(train_y, g), train_y, shapes(test_y, g), test_y, list(SHAPE_CLASSES)",
                ]
            ),
        ]
    )


LOADERS = {"cifar10": _load_cifar10, "synthetic": _make_shapes, "folder": _load_folder}


# --- learning-rate schedules -------------------------------------------------------------------------


def _schedule_onecycle(note: Callable[[str], str]) -> list[str]:
    args = [
        "optimizer",
        'max_lr=[group["lr"] for group in optimizer.param_groups]',
        "total_steps=max(total_steps, 2)",
        "pct_start=0.25",
        "cycle_momentum=False",
    ]
    why = N_("one cycle: the learning rate climbs over the first 25 % of steps, then anneals to near 0")
    return [_comment(note(why)) + "\n" + _call("scheduler = optim.lr_scheduler.OneCycleLR", args)]


def _schedule_cosine(note: Callable[[str], str]) -> list[str]:
    return [
        _comment(note(N_("cosine: the learning rate falls from its peak to 0 along half a cosine wave")))
        + "\nscheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))"
    ]


def _schedule_linear(note: Callable[[str], str]) -> list[str]:
    why = N_("linear warm-up, then decay: the learning rate climbs to its peak, then falls to 0")
    return [
        _comment(note(why)) + "\n" + _source(warmup_linear),
        _trailing(
            "scheduler = optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total_steps))",
            note(N_("the peak × factor")),
        ),
    ]


# each schedule's code (chunks), its comments through `note` (Program.note: in the program's language)
SCHEDULES: dict[str, Callable[[Callable[[str], str]], list[str]]] = {
    "constant": lambda note: [],
    "onecycle": _schedule_onecycle,
    "cosine": _schedule_cosine,
    "linear": _schedule_linear,
}


# --- source and layout -------------------------------------------------------------------------------


def constructor(cfg: TrainConfig) -> str:
    """How the program builds the run's network: the registry's call, or `Net()` for a built one."""
    return "Net()" if cfg.model == models.CUSTOM else CONSTRUCTORS[cfg.model]


@functools.cache
def _model_traits(model: str, layers: str = "") -> tuple[bool, bool]:
    """Whether the model has batch-norm layers (test in eval mode) and a whitening layer (airbench)."""
    sample = models.build_model(model, layers=layers)
    has_norm = any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) for m in sample.modules())
    return has_norm, hasattr(sample, "whiten")


@functools.cache
def class_sources(model: str) -> str:
    """The source of the model's class and of every class or function of core.models it uses, in the
    order core/models.py defines them (a base class before its subclasses)."""
    defined = {
        name: obj
        for name, obj in vars(models).items()
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == models.__name__
    }
    needed, todo = set(), [CONSTRUCTORS[model].split("(")[0]]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += [n for n in _names(inspect.getsource(defined[name])) if n in defined]
    ordered = sorted(needed, key=lambda n: inspect.getsourcelines(defined[n])[1])
    return _join([_source(defined[n]) for n in ordered])


@functools.cache
def _source(obj: object) -> str:
    """An engine function's or class's source, as the engine runs it."""
    return inspect.getsource(obj).rstrip()


def _names(source: str) -> set[str]:
    """The identifiers in Python source (not the words of its strings and comments)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.string for t in tokens if t.type == tokenize.NAME}


def _top_level(chunk: str) -> list[str]:
    """A chunk's top-level statements' first lines (not comments, indented lines or closing brackets)."""
    return [line for line in chunk.splitlines() if line and line[0] not in " #)]"]


def _comment(text: str, indent: str = "") -> str:
    """A comment on lines of its own: a new line at each "\\n" of `text`, and wherever a line would be too
    long, at whitespace or (中文) between characters, never before closing punctuation."""
    width, lines = LINE - len(indent) - 2, []
    for rest in text.split("\n"):
        while len(rest) > width:
            cuts = [i for i in range(1, width + 1) if rest[i] == " " or _between_characters(rest, i)]
            cut = cuts[-1] if cuts else width
            lines.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
        lines.append(rest)
    return "\n".join(f"{indent}# {line}" for line in lines)


def _between_characters(text: str, i: int) -> bool:
    """Whether a line may break before text[i]: next to a CJK character, not before closing punctuation."""
    wide = lambda c: "\u2e80" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"
    return (wide(text[i - 1]) or wide(text[i])) and text[i] not in "，。；：、）》」！？"


def _trailing(code: str, comment: str) -> str:
    """A line of code with its comment at the end, or above it (wrapped) when the two are too long."""
    line = f"{code}  # {comment}"
    if len(line) <= LINE:
        return line
    return _comment(comment, code[: len(code) - len(code.lstrip())]) + "\n" + code


def _is_definition(line: str) -> bool:
    return line.startswith(("def ", "class ", "@"))


def _join(chunks: list[str]) -> str:
    """Top-level chunks of code: two blank lines around a definition, one between statements."""
    out = chunks[0]
    for before, after in zip(chunks, chunks[1:]):
        around_def = _is_definition(_top_level(before)[-1]) or _is_definition(_top_level(after)[0])
        out += ("\n\n\n" if around_def else "\n\n") + after
    return out


def _call(head: str, args: list[str], brackets: str = "()") -> str:
    """`head(args)` laid out as ruff format does: on one line if it fits, else (a call) the arguments on
    one indented line, else one argument per line."""
    open_, close = brackets
    one = f"{head}{open_}{', '.join(args)}{close}"
    if len(one) <= LINE:
        return one
    hugged = f"    {', '.join(args)}"
    if len(hugged) <= LINE and brackets == "()":  # a list literal is always split one item a line
        return f"{head}{open_}\n{hugged}\n{close}"
    return f"{head}{open_}\n" + "".join(f"    {a},\n" for a in args) + close


def _str(text: str) -> str:
    """A string literal in double quotes (ruff's style), escaped as Python would."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def _floats(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(repr(float(v)) for v in values) + ("," if len(values) == 1 else "") + ")"


def _fstring(template: str, **expressions: str) -> str:
    """A console format (core.console) as an f-string over the program's expressions, so the program
    prints the lines core.console rebuilds: "[{epoch}, ..." → f"[{epoch + 1}, ..."."""
    for name, expression in expressions.items():
        template = template.replace("{" + name, "{" + expression)
    return "f" + _str(template)
