"""Chapter 5's device race from the command line: images/s of the tutorial's Net, widened, on each device.

    python bench/device_race.py                                   # every device here, widths 1-16
    python bench/device_race.py --widths 1 4 16 64 --steps 200 --batch-size 128 --repeats 3   # on a GPU

The race is core/race.py's, the one the GPU page runs (torch + torchvision only, no streamlit: it runs on a
machine without the app's UI). Each repeat races every device at every width; a device's images/s is the
median over repeats, so that a burst of load from elsewhere on the machine moves it less. Prints the
machine, the date, the command and a markdown table in the format the GPU page reads back from the
"Device race (chapter 5)" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.devices import list_devices  # noqa: E402
from core.race import forward_flops, run_race  # noqa: E402

COLUMNS = ("device", "width", "batch", "steps", "forward MFLOP/image", "images/s", "runs (images/s)", "loss")


def cpu_model() -> str:
    """The CPU's model name where Linux says it, else what Python's platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line naming the hardware and software the numbers come from."""
    devices = "; ".join(device_name(d.name) for d in list_devices())
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, {platform.system()}; devices: {devices}"
    )


def device_name(name: str) -> str:
    """`cuda:0 (NVIDIA H100 80GB HBM3)` for a GPU: the model, not its free memory of the moment."""
    if name.startswith("cuda") and torch.cuda.is_available():
        return f"{name} ({torch.cuda.get_device_name(torch.device(name))})"
    return name


def row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="conv width multipliers")
    p.add_argument("--steps", type=int, default=30, help="training steps per lane (the first is untimed)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--devices", nargs="+", help="e.g. cpu cuda:0 (default: every device this machine has)")
    p.add_argument("--repeats", type=int, default=3, help="races per width; the median images/s is shown")
    args = p.parse_args()

    print(f"machine: {machine()}")
    print(f"date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"command: python bench/device_race.py {shlex.join(sys.argv[1:])}\n")
    print(row(COLUMNS))
    print(row(["---"] * len(COLUMNS)))
    for width in args.widths:
        races = [run_race(width, args.steps, args.batch_size, args.devices) for _ in range(args.repeats)]
        for i, lane in enumerate(races[0].lanes):
            lanes = [race.lanes[i] for race in races]
            failed = next((lane.error for lane in lanes if lane.error is not None), None)
            rates = [lane.images_per_second for lane in lanes]
            cells = [
                device_name(lane.device),
                width,
                args.batch_size,
                args.steps,
                f"{forward_flops(width) / 1e6:.1f}",
                f"{statistics.median(rates):,.0f}" if failed is None else f"failed: {failed}",
                " · ".join(f"{r:,.0f}" for r in rates if r is not None),
                f"{lanes[-1].losses[-1]:.3f}" if lanes[-1].losses else "",
            ]
            print(row(cells), flush=True)


if __name__ == "__main__":
    main()
