"""Chapter 5's device race: the tutorial's recipe for the same steps on every device of this machine.

One lane per device, run one after the other so that lanes do not compete for the CPU that feeds them.
Every lane starts from the same weights and sees the same batches, so the loss curves should match
(up to floating-point rounding) and only the speed differs. The network is the tutorial's `Net` with its
conv channels multiplied by a width (the tutorial's own exercise): at width 1 each step is too little work
to keep a GPU busy, and a wider network shows where the GPU starts to win.

The loop is the tutorial's: each batch is sent with `.to(device)` and the loss is read with `.item()`
every step, so the race times what the tutorial's loop would do on that device."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.flop_counter import FlopCounterMode

from .data import make_synthetic, to_model_input
from .devices import list_devices
from .messages import N_, MessageError
from .models import Net

# The page's bounds: a click finishes in seconds on a 2-core CPU. On this project's loaded 2-core VM the CPU
# lane trained at 0.6-12 GFLOP/s of forward work and 50-1,700 images/s (docs/BENCHMARKS.md, "Device race"):
# a race is capped at 15 GFLOP of forward work and 2,048 images, at least 4 steps.
PAGE_WIDTHS = (1, 2, 4, 8, 16)
PAGE_BATCH_SIZES = (4, 32, 128)
PAGE_MIN_STEPS = 4
PAGE_MAX_STEPS = 60
PAGE_FORWARD_FLOPS = 15e9
PAGE_IMAGES = 2048
# Sanity bounds for the CLI too: beyond them a lane only measures how long memory takes to run out.
MAX_WIDTH = 64
MAX_STEPS = 10_000
MAX_BATCH = 4096
# The first step pays one-time costs (allocating, choosing kernels, starting CUDA): it runs, untimed.
WARMUP_STEPS = 1
# Distinct batches cycled through: enough for a real loss curve, little to generate.
POOL_BATCHES = 16
SEED = 0

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
RECORD_HEADING = "## Device race (chapter 5)"

Progress = Callable[[str, int, int], None]  # (device, steps done, steps in all)


class RaceError(MessageError):
    """A race that cannot start (bad width, steps or batch), or a lane that stopped."""


@dataclass
class Lane:
    """One device's run: its losses per step, and the time of the steps after the warm-up."""

    device: str
    label: str
    total_steps: int
    batch_size: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    error: RaceError | None = None

    @property
    def steps(self) -> int:
        return len(self.losses)

    @property
    def images_per_second(self) -> float | None:
        """Training throughput over the timed steps; None when the lane stopped before any."""
        timed = self.steps - WARMUP_STEPS
        if self.error is not None or timed <= 0 or self.seconds <= 0:
            return None
        return timed * self.batch_size / self.seconds


@dataclass
class Race:
    width: int
    batch_size: int
    steps: int
    parameters: int
    lanes: list[Lane]


def race_net(width: int, num_classes: int = 10) -> Net:
    """The tutorial's `Net` with both conv layers `width` times wider (6·w and 16·w channels), the first
    linear layer widened to match. Width 1 is the tutorial's network exactly."""
    net = Net(num_classes)
    if width != 1:
        net.conv1 = nn.Conv2d(3, 6 * width, 5)
        net.conv2 = nn.Conv2d(6 * width, 16 * width, 5)
        net.fc1 = nn.Linear(16 * width * 5 * 5, 120)
    return net


@functools.cache
def forward_flops(width: int) -> int:
    """Floating-point operations of one image's forward pass through `race_net(width)`: the work per
    image grows about as width², while the per-step overhead (launching, copying, `.item()`) does not."""
    with FlopCounterMode(display=False) as counter:
        race_net(width)(torch.zeros(1, 3, 32, 32))
    return counter.get_total_flops()


@dataclass(frozen=True)
class NetSize:
    """What a width makes of the race's network, read off `race_net` itself."""

    conv1: int  # output channels
    conv2: int
    parameters: int
    forward_flops: int  # one image's forward pass


@functools.cache
def net_size(width: int) -> NetSize:
    net = race_net(width)
    parameters = sum(p.numel() for p in net.parameters())
    return NetSize(net.conv1.out_channels, net.conv2.out_channels, parameters, forward_flops(width))


def page_max_steps(width: int, batch_size: int) -> int:
    """The most steps the page offers at this width and batch: within PAGE_FORWARD_FLOPS of work and
    PAGE_IMAGES images (a narrow network is bound by per-step costs, not arithmetic), PAGE_MIN_STEPS to
    PAGE_MAX_STEPS."""
    fit = min(PAGE_FORWARD_FLOPS // (forward_flops(width) * batch_size), PAGE_IMAGES // batch_size)
    return max(PAGE_MIN_STEPS, min(PAGE_MAX_STEPS, int(fit)))


def _check(width: int, steps: int, batch_size: int) -> None:
    if not 1 <= width <= MAX_WIDTH:
        raise RaceError(N_("The width must be from 1 to {most}; got {width}."), most=MAX_WIDTH, width=width)
    if not WARMUP_STEPS < steps <= MAX_STEPS:
        raise RaceError(
            N_("The number of steps must be from {least} to {most}; got {steps}."),
            least=WARMUP_STEPS + 1,
            most=MAX_STEPS,
            steps=steps,
        )
    if not 1 <= batch_size <= MAX_BATCH:
        raise RaceError(
            N_("The batch size must be from 1 to {most}; got {batch}."), most=MAX_BATCH, batch=batch_size
        )


def _batches(batch_size: int, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """CPU batches of normalised demo images and labels, as the tutorial's loader hands them out."""
    n = batch_size * min(steps, POOL_BATCHES)
    data = make_synthetic(n_train=n, n_test=0, seed=SEED)
    inputs = to_model_input(data.train_x, 3)
    return list(zip(inputs.split(batch_size), data.train_y.split(batch_size)))


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that the clock reads finished steps."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def lane_stopped(device: str, steps: int, total: int, error: RuntimeError) -> RaceError:
    """The message for a lane that `error` stopped after `steps` of `total` steps."""
    if isinstance(error, torch.OutOfMemoryError):
        return RaceError(
            N_(
                "The {device} lane ran out of memory after {steps} of {total} steps: try a narrower "
                "network or a smaller batch."
            ),
            device=device,
            steps=steps,
            total=total,
        )
    return RaceError(
        N_("The {device} lane stopped after {steps} of {total} steps: {error}"),
        device=device,
        steps=steps,
        total=total,
        error=_first_line(error),
    )


def run_lane(
    lane: Lane, width: int, batches: list[tuple[torch.Tensor, torch.Tensor]], progress: Progress
) -> None:
    """Train on `lane.device` for `lane.total_steps` steps, filling in the lane. A device error (out of
    memory, a GPU that vanished, a device that does not exist) ends the lane with its message."""
    torch.manual_seed(SEED)
    net = race_net(width)
    try:
        device = torch.device(lane.device)
        net.to(device)
        criterion = nn.CrossEntropyLoss()
        optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        start = time.perf_counter()
        for step in range(lane.total_steps):
            if step == WARMUP_STEPS:
                _synchronize(device)
                start = time.perf_counter()
            images, labels = batches[step % len(batches)]
            inputs, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            lane.losses.append(loss.item())
            progress(lane.device, step + 1, lane.total_steps)
        _synchronize(device)
        lane.seconds = time.perf_counter() - start
    except RuntimeError as error:
        lane.error = lane_stopped(lane.device, lane.steps, lane.total_steps, error)
    finally:
        # a failed CUDA lane must not keep its memory from the lanes after it
        del net
        if lane.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _noop(device: str, done: int, total: int) -> None:
    pass


def run_race(
    width: int = 1,
    steps: int = 50,
    batch_size: int = 32,
    devices: list[str] | None = None,
    progress: Progress | None = None,
) -> Race:
    """The race on `devices` (default: every device this machine has, CPU first). A lane that fails keeps
    the steps it did and its message; the other lanes still run. Bad arguments raise RaceError."""
    _check(width, steps, batch_size)
    labels = {d.name: d.label for d in list_devices()}
    names = devices if devices is not None else list(labels)
    batches = _batches(batch_size, steps)
    lanes = [Lane(name, labels.get(name, name), steps, batch_size) for name in names]
    for lane in lanes:
        run_lane(lane, width, batches, progress or _noop)
    return Race(width, batch_size, steps, net_size(width).parameters, lanes)


def recorded_results(path: Path = BENCHMARKS) -> list[dict[str, str]]:
    """The rows of the race tables recorded under RECORD_HEADING in docs/BENCHMARKS.md (written by
    bench/device_race.py), as {column: cell}; none when the section or the file is missing."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    start = text.find(RECORD_HEADING)
    if start < 0:
        return []
    section = text[start + len(RECORD_HEADING) :]
    end = re.search(r"^## ", section, flags=re.MULTILINE)
    rows, header = [], None
    for line in section[: end.start() if end else None].splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not all(set(c) <= set("-: ") for c in cells):
            rows.append(dict(zip(header, cells)))
    return rows
