"""Time to a demo run's first step: the app's Start (`core.jobs.start`, a job forked from the warm starter)
against the same run typed in a terminal (`python -m core.train --data synthetic ...`, what a user would
otherwise do), alternated (A B, B A, ...), medians.

    .venv/bin/python bench/job_start.py --repeats 5

Each side has a data folder of its own that a warm-up run has used, as a user's second and later demo runs
find it; the app side's warm-up also lets the starter finish its imports, as it has by the time a learner
has filled in the Train page (which starts it). The clock runs from the launch (or the `start` call) to the
run's first `step` event in metrics.jsonl (the trainer logs its first one LOG_SECONDS into training, the
same on both sides), read as the job writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import jobs  # noqa: E402
from core.config import make_config  # noqa: E402
from core.devices import machine  # noqa: E402
from core.runs import RunStore  # noqa: E402

DEMO = dict(data="synthetic", epochs=0.2, device="cpu")


def first_step(runs: Path) -> bool:
    for events in runs.glob("*/metrics.jsonl"):
        # whole lines only: the last may be half written
        lines = events.read_text().split("\n")[:-1]
        if any(json.loads(line).get("type") == "step" for line in lines):
            return True
    return False


def until_first_step(proc, runs: Path, t0: float, what: str) -> float:
    """Seconds from `t0` to the first step event under `runs`; the process is killed after."""
    try:
        while proc.poll() is None:
            if first_step(runs):
                return time.perf_counter() - t0
            time.sleep(0.01)
        raise SystemExit(f"{what} ended (exit {proc.returncode}) before its first step")
    finally:
        proc.kill()
        proc.wait(30)


def terminal(data_dir: Path) -> float:
    """Seconds from launching `python -m core.train` to its first step event."""
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.train", "--data", "synthetic", "--epochs", "0.2", "--device", "cpu"]
            + ["--runs-dir", runs, "--data-dir", str(data_dir), "--quiet"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        return until_first_step(proc, Path(runs), t0, "the terminal run")


def app(data_dir: Path) -> float:
    """Seconds from the Start button's `core.jobs.start` to the job's first step event."""
    os.environ["BLITZLAB_DATA_DIR"] = str(data_dir)
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        run = jobs.start(make_config(**DEMO), RunStore(runs))
        return until_first_step(jobs._children[run.id], Path(runs), t0, "the app's job")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="samples per side")
    args = p.parse_args()
    sides: dict[str, Callable[[Path], float]] = {"terminal": terminal, "app": app}
    folders = {name: tempfile.TemporaryDirectory(prefix=f"blitzlab-start-{name}-") for name in sides}
    data = {name: Path(folder.name) for name, folder in folders.items()}
    print(f"{machine(torch.device('cpu'))}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    jobs.warm()
    for name, side in sides.items():  # warm-up: fills the data folder (and lets the starter import)
        print(f"warm-up {name}: {side(data[name]):.2f} s", flush=True)
    got: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(args.repeats):
        for name in list(sides) if i % 2 == 0 else list(sides)[::-1]:
            got[name].append(sides[name](data[name]))
            print(f"{name:8} {got[name][-1]:.2f} s", flush=True)
    print("\n| started from | to the first step, s (samples) | median |")
    print("|---|---|---|")
    for name, seconds in got.items():
        samples = " · ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {samples} | {statistics.median(seconds):.2f} |")
    for folder in folders.values():
        folder.cleanup()


if __name__ == "__main__":
    main()
