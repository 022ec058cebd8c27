"""Time to a test accuracy, over repeated CLI runs of one recipe on one device (no streamlit needed: this is
what to run on a GPU machine, which has torch, torchvision and pandas only).

    python bench/time_to_accuracy.py --data data/cifar10-jpeg --device cuda --target 0.94 --repeats 3 \\
        --recipe "--preset fast-gpu"
    python bench/time_to_accuracy.py --data data/cifar10-jpeg --device cuda --recipe "--preset tutorial"

Each run is `python -m core.train` in its own process. Training seconds exclude data decoding and the
evaluations between epochs (the summary's and epoch events' `train_seconds`). Prints a markdown table and
each run's accuracy after every epoch. This process never starts CUDA: the runs have the GPU to themselves.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.config import positive_int  # noqa: E402


def one_run(recipe: str, args: argparse.Namespace, runs: Path) -> dict:
    """A run's per-epoch (training seconds, accuracy), its images/s, and the first time at `target`."""
    argv = [sys.executable, "-m", "core.train", "--data", args.data, "--device", args.device, "--quiet"]
    argv += [*shlex.split(recipe), "--runs-dir", str(runs)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`{shlex.join(argv)}` failed ({done.returncode}):\n{done.stderr[-4000:]}")
    out = done.stdout
    folder = Path(
        next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("run folder: "))
    )
    events = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    epochs = [(e["train_seconds"], e["test_accuracy"]) for e in events if e["type"] == "epoch"]
    summary = json.loads((folder / "summary.json").read_text())
    hit = next((s for s, acc in epochs if acc >= args.target), None)
    return {
        "epochs": epochs,
        "final": epochs[-1][1],
        "seconds": epochs[-1][0],
        "to_target": hit,
        "images_per_s": summary.get("images_per_s"),
        "machine": summary.get("machine", "?"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="cifar10, or an ImageFolder with train/ and test/")
    p.add_argument("--data-dir", help="where CIFAR-10 / decode caches live")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu, mps")
    p.add_argument("--recipe", action="append", required=True, help="flags after --data, quoted; repeatable")
    p.add_argument("--target", type=float, default=0.94, help="the accuracy to time, as a fraction")
    p.add_argument("--repeats", type=positive_int, default=3)
    args = p.parse_args()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"command: {' '.join(shlex.quote(a) for a in sys.argv)}\n")
    target = f"time to {args.target:.0%}, s"
    print(f"| recipe | machine (the runs') | runs | {target} | final accuracy | training s | img/s |")
    print("|---|---|---|---|---|---|---|")
    curves = []
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipe:
            runs = [one_run(recipe, args, Path(tmp)) for _ in range(args.repeats)]
            hits = [r["to_target"] for r in runs if r["to_target"] is not None]
            to_target = (
                f"{statistics.median(hits):.1f} ({len(hits)}/{len(runs)} reached)" if hits else "not reached"
            )
            final = " · ".join(f"{r['final']:.2%}" for r in runs)
            seconds = statistics.median(r["seconds"] for r in runs)
            rate = statistics.median(r["images_per_s"] or 0 for r in runs)
            cells = [
                f"`{recipe}`",
                " / ".join(sorted({r["machine"] for r in runs})),
                len(runs),
                to_target,
                final,
                f"{seconds:.1f}",
                f"{rate:,.0f}",
            ]
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)
            curves.append((recipe, runs))
    # each run's accuracy after every epoch, at its training seconds: where a recipe levels off
    for recipe, runs in curves:
        for i, r in enumerate(runs, 1):
            points = " · ".join(f"{acc:.2%} @ {s:.1f} s" for s, acc in r["epochs"])
            print(f"\n`{recipe}` run {i}: {points}")


if __name__ == "__main__":
    main()
