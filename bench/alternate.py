"""Shared by the benches that compare checkouts: a snippet timed in a fresh process, sides sampled in
alternating order (so that load from anything else on the machine hits all of them alike), and the report
with the machine named."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from core.devices import machine


def printed_number(code: str, checkout: Path) -> float:
    """Run `python -c code` in `checkout` (its own imports) and read the one number it prints."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, check=True
    )
    return float(out.stdout)


def alternate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """`repeats` samples of each side, in the order A B C, C B A, A B C, ..."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeats):
        for name in list(sides)[:: 1 if i % 2 == 0 else -1]:
            samples[name].append(sides[name]())
    return samples


def report(samples: dict[str, list[float]], unit: str, digits: int) -> None:
    print(f"machine: {machine(torch.device('cpu'))}")
    for name, values in samples.items():
        shown = " · ".join(f"{v:.{digits}f}" for v in values)
        print(f"{name}: {shown} {unit}, median {statistics.median(values):.{digits}f}")
