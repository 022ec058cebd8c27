"""Training throughput of two checkouts of this project, alternated: did a change slow the loop down?

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/cli_ab.py --before /tmp/before --data /work/data --repeats 3 \\
        --recipe "--preset tutorial" --recipe "--preset fast-cpu --epochs 1"

Each run is `python -m core.train` as a user starts it, in its own process, from each checkout in turn
(A, B, A, B, ...), so that load from anything else on the machine hits both alike. Reported per recipe:
images/s from each run's summary (training time only: no data decoding, no evaluation), the median of each
side, and their ratio. Prints a markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(checkout: Path, recipe: str, data: str, data_dir: str, runs: Path) -> dict:
    """Train `recipe` from `checkout`; its summary (images/s, accuracy, seconds)."""
    argv = [sys.executable, "-m", "core.train", "--data", data, "--data-dir", data_dir, "--device", "cpu"]
    argv += [*shlex.split(recipe), "--runs-dir", str(runs), "--quiet"]
    out = subprocess.run(argv, cwd=checkout, capture_output=True, text=True, check=True).stdout
    folder = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("run folder: "))
    return json.loads((Path(folder) / "summary.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--before", required=True, help="the other checkout (e.g. a git worktree of the base commit)"
    )
    p.add_argument("--data", required=True, help="an ImageFolder with train/ and test/ (the shared CIFAR-10)")
    p.add_argument(
        "--data-dir", default=str(Path(tempfile.gettempdir()) / "blitzlab-cache"), help="decode cache"
    )
    p.add_argument("--recipe", action="append", required=True, help="flags after --data, quoted; repeatable")
    p.add_argument("--repeats", type=int, default=3, help="runs of each recipe on each side")
    args = p.parse_args()
    sides = {"before": Path(args.before).resolve(), "after": ROOT}
    # each side runs in its own checkout: a relative folder would name a different (or no) folder there;
    # --data may also be a name (cifar10, synthetic), which stays as it is
    if Path(args.data).exists():
        args.data = str(Path(args.data).resolve())
    args.data_dir = str(Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        one_run(ROOT, "--epochs 0.01", args.data, args.data_dir, Path(tmp))  # decode the data once, untimed
        rows = []
        for recipe in args.recipe:
            rates: dict[str, list[float]] = {side: [] for side in sides}
            for i in range(args.repeats):
                for side, checkout in list(sides.items())[:: 1 if i % 2 == 0 else -1]:  # A B, B A, A B
                    summary = one_run(checkout, recipe, args.data, args.data_dir, Path(tmp) / side)
                    rates[side].append(summary["images_per_s"])
                    print(
                        f"{recipe} · {side}: {summary['images_per_s']:.0f} img/s, "
                        f"{summary['test_accuracy']:.2%}",
                        file=sys.stderr,
                        flush=True,
                    )
            med = {side: statistics.median(r) for side, r in rates.items()}
            runs = {side: " · ".join(f"{r:,.0f}" for r in rates[side]) for side in sides}
            ratio = med["after"] / med["before"]
            rows.append(
                f"| `{recipe}` | **{med['before']:,.0f}** ({runs['before']}) | "
                f"**{med['after']:,.0f}** ({runs['after']}) | {ratio:.3f} |"
            )
    print("| recipe | before, img/s median (runs) | after, img/s median (runs) | after / before |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
