"""What one live-view status refresh costs the server as a run grows: reading the progress (epoch, step,
ETA) and the last two test accuracies from the run's EventLog, at 1,000 to 180,000 events (an hour of a
run logging five events a second is 18,000).

    .venv/bin/python bench/refresh_cost.py [--lengths 1000 18000 180000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.curves import progress  # noqa: E402
from core.runs import EventLog  # noqa: E402


def run_log(n: int, folder: Path) -> EventLog:
    """A metrics.jsonl of a start event and n steps (12,500 an epoch, five a second), read by an EventLog."""
    start = {"type": "start", "steps_per_epoch": 12_500, "epochs": 100, "time": 0.0}
    steps = (
        {"type": "step", "epoch": i // 12_500, "step": i % 12_500, "global_step": i, "loss": 1.0, "lr": 1e-3,
         "time": i * 0.2, "images_per_s": 1500.0}
        for i in range(n)
    )  # fmt: skip
    path = folder / f"metrics-{n}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in (start, *steps)))
    log = EventLog(path)
    log.refresh()
    return log


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[1000, 18_000, 180_000])
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.lengths:
            log = run_log(n, Path(tmp))
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                progress(log), log.epochs[-2:]
            print(f"{n:>7,} events: {(time.perf_counter() - t0) / args.repeats * 1000:.3f} ms per refresh")


if __name__ == "__main__":
    main()
