"""Time to a demo run's first step: `python -m core.train --data synthetic` as a user (or the app's Start
button) launches it, this checkout against another, alternated (A B, B A, ...), medians.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/job_start.py --before /tmp/before --repeats 5

Both sides are the command a user types in a terminal (the app's jobs run the same one), so this measures a
change in the project's own start-up against its previous code, not against another way of training.
Each sample is a fresh process with a data folder of its side's own that earlier samples have used, as a
user's second and later demo runs find it (a warm-up run per side comes first). The clock runs from the
launch to the run's first `step` event in metrics.jsonl (the trainer logs its first one LOG_SECONDS into
training, the same on both sides), read as the process writes it.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.devices import machine  # noqa: E402


def first_step_seconds(checkout: Path, data_dir: Path) -> float:
    """Seconds from launching a short demo run in `checkout` to its first step event."""
    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.train", "--data", "synthetic", "--epochs", "0.2", "--device", "cpu"]
            + ["--runs-dir", runs, "--data-dir", str(data_dir), "--quiet"],
            cwd=checkout,
            stdout=subprocess.DEVNULL,
        )
        try:
            while proc.poll() is None:
                for events in Path(runs).glob("*/metrics.jsonl"):
                    # whole lines only: the last may be half written
                    lines = events.read_text().split("\n")[:-1]
                    if any(json.loads(line).get("type") == "step" for line in lines):
                        return time.perf_counter() - t0
                time.sleep(0.01)
            raise SystemExit(f"the run in {checkout} ended (exit {proc.returncode}) before its first step")
        finally:
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, required=True, help="another checkout (e.g. a git worktree)")
    p.add_argument("--repeats", type=int, default=5, help="samples per side")
    args = p.parse_args()
    sides = {"before": args.before.resolve(), "now": ROOT}
    folders = {name: tempfile.TemporaryDirectory(prefix=f"blitzlab-start-{name}-") for name in sides}
    data = {name: Path(folder.name) for name, folder in folders.items()}
    print(f"{machine(torch.device('cpu'))}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for name, checkout in sides.items():  # warm-up: the first run of each side fills its data folder
        print(f"warm-up {name}: {first_step_seconds(checkout, data[name]):.2f} s", flush=True)
    got: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(args.repeats):
        for name in list(sides) if i % 2 == 0 else list(sides)[::-1]:
            got[name].append(first_step_seconds(sides[name], data[name]))
            print(f"{name:6} {got[name][-1]:.2f} s", flush=True)
    print("\n| checkout | to the first step, s (samples) | median |")
    print("|---|---|---|")
    for name, seconds in got.items():
        samples = " · ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {samples} | {statistics.median(seconds):.2f} |")
    for folder in folders.values():
        folder.cleanup()


if __name__ == "__main__":
    main()
