"""What a click costs the server: the time to rerun each chapter page's script after its first drawing, this
checkout against another (a worktree of an earlier commit), alternated, medians.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/page_rerun.py --compare /tmp/before [--rounds 3] [--reruns 5]

Every widget a learner touches reruns the page's script on the server before the browser can draw the
result. Each sample is Streamlit's AppTest running the page in a fresh process of that checkout: the first
run is left out (imports, caches), then `--reruns` reruns with nothing changed; their median is the
sample. AppTest compiles the page again on each run, which a real server does not (it keeps the bytecode),
so these times include a few tens of milliseconds the learner does not wait for, alike in both checkouts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    "pages/home.py",
    "pages/tensors.py",
    "pages/autograd.py",
    "pages/neural_networks.py",
    "pages/train.py",
)


def sample(reruns: int) -> dict[str, float]:
    """In this process (the checkout given as cwd): each page's median rerun time, in seconds."""
    sys.path.insert(0, str(Path.cwd()))
    from streamlit.testing.v1 import AppTest

    out = {}
    for page in PAGES:
        at = AppTest.from_file(str(Path.cwd() / "app.py"), default_timeout=120)
        at.switch_page(page).run()
        times = []
        for _ in range(reruns):
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
        assert not at.exception, (page, at.exception)
        out[page] = statistics.median(times)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--compare", type=Path, help="another checkout, measured alternately as 'before'")
    p.add_argument("--rounds", type=int, default=3, help="samples per checkout, alternated")
    p.add_argument("--reruns", type=int, default=5, help="reruns per page in one sample")
    p.add_argument("--sample", action="store_true", help=argparse.SUPPRESS)  # one sample, as JSON
    args = p.parse_args()
    if args.sample:
        print(json.dumps(sample(args.reruns)))
        return
    sys.path.insert(0, str(ROOT))
    import torch

    from core.devices import machine

    checkouts = {"now": ROOT, **({"before": args.compare.resolve()} if args.compare else {})}
    print(f"machine: {machine(torch.device('cpu'))}; date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    got: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for r in range(args.rounds):
        order = list(checkouts) if r % 2 == 0 else list(reversed(checkouts))  # A B, B A, ...
        for name in order:
            argv = [
                sys.executable,
                str(ROOT / "bench" / "page_rerun.py"),
                "--sample",
                "--reruns",
                str(args.reruns),
            ]
            done = subprocess.run(argv, cwd=checkouts[name], capture_output=True, text=True, check=True)
            got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(
                f"round {r + 1} {name}: "
                + ", ".join(f"{k[6:-3]} {v * 1e3:.0f}" for k, v in got[name][-1].items())
            )
    print("\n| page | " + " | ".join(f"{name}, ms (median of {args.rounds})" for name in checkouts) + " |")
    print("|---|" + "---|" * len(checkouts))
    for page in PAGES:
        cells = [f"{statistics.median(s[page] for s in got[name]) * 1e3:.0f}" for name in checkouts]
        print(f"| {page} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
