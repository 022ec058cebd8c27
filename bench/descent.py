"""Time per step of the Autograd page's gradient-descent chart (`core.autograd.descend`: f(x, y) evaluated
under the expression budget, then torch.optim steps), against the same loop typed into Python as the page
shows it (what a learner would otherwise run), and against another checkout (`--before`, e.g. a `git
worktree` of an older commit). Every function of the chart, every optimizer, the page's most steps (500);
sides alternated, each sample in a fresh process.

    .venv/bin/python bench/descent.py --before /tmp/wt_old --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alternate import alternate, printed_number, report  # noqa: E402

STEPS = 500  # the page's largest step count

# each side prints its milliseconds per step over all functions and optimizers, after one warm-up pass
APP = f"""import time
from core.autograd import FUNCTIONS_2D, OPTIMIZERS_2D, descend
def once():
    n = 0
    for text in FUNCTIONS_2D.values():
        for name in OPTIMIZERS_2D:
            n += len(descend(text, (-1.5, 1.5), name, 0.001, {STEPS})["loss"])
    return n
once()
t = time.perf_counter()
n = once()
print((time.perf_counter() - t) / n * 1000)"""

PLAIN = f"""import time
import torch
from core.autograd import FUNCTIONS_2D
OPTIMIZERS = [
    lambda p: torch.optim.SGD(p, lr=0.001),
    lambda p: torch.optim.SGD(p, lr=0.001, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.001),
]
def once():
    n = 0
    for text in FUNCTIONS_2D.values():
        f_of = eval("lambda x, y: " + text)
        for make in OPTIMIZERS:
            xy = torch.tensor([-1.5, 1.5], dtype=torch.float64, requires_grad=True)
            optimizer = make([xy])
            for step in range({STEPS}):
                optimizer.zero_grad()
                x, y = xy
                f = f_of(x, y)
                f.backward()
                optimizer.step()
                n += 1
    return n
once()
t = time.perf_counter()
n = once()
print((time.perf_counter() - t) / n * 1000)"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (older code)")
    parser.add_argument("--repeats", type=int, default=5, help="samples per side, alternated")
    args = parser.parse_args()
    before = args.before.resolve()
    sides = {
        "plain loop": lambda: printed_number(PLAIN, ROOT),
        "before": lambda: printed_number(APP, before),
        "now": lambda: printed_number(APP, ROOT),
    }
    report(alternate(sides, args.repeats), "ms a step", 3)


if __name__ == "__main__":
    main()
