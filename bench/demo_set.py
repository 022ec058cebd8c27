"""Time to draw the demo set (`core.data.make_synthetic`: 5,000 training and 1,000 test images), which the
first demo run in a new data folder pays before its first step, in this checkout and in another one
(`--before`, e.g. a `git worktree` of an older commit), alternated, each sample in a fresh process.

    .venv/bin/python bench/demo_set.py --before /tmp/wt_old --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alternate import alternate, printed_number, report  # noqa: E402

# a small draw first, so that the clock sees the drawing and not torch's first-call set-up
DRAW = """import time
from core.data import make_synthetic
make_synthetic(100, 10)
t = time.perf_counter()
make_synthetic()
print(time.perf_counter() - t)"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (older code)")
    parser.add_argument("--repeats", type=int, default=5, help="samples per side, alternated")
    args = parser.parse_args()
    before = args.before.resolve()
    sides = {"before": lambda: printed_number(DRAW, before), "now": lambda: printed_number(DRAW, ROOT)}
    report(alternate(sides, args.repeats), "s", 2)


if __name__ == "__main__":
    main()
