"""CPU seconds per second that watching a run takes: the Streamlit server and Chromium, while one app job
trains on the demo data, the Train page open at each "Live updates" setting; this checkout's app against
another's (`--compare`, e.g. a worktree of the commit before a change), alternated.

    .venv/bin/python bench/live_cpu.py [--compare ../before] [--seconds 15] [--rounds 3] \
        [--refresh "every second" "every 5 s" off]

Training throughput on a shared 2-core machine moves by tens of percent with other load
(bench/page_overhead.py); the CPU the page takes is what the page controls, and it varies far less. Each
window starts SETTLE seconds after the page loads (the first, full drawing is a one-off cost). At one
refresh a second, CPU-s/s is the CPU per refresh.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.page_overhead import browser_pids, cpu_seconds  # noqa: E402
from core import jobs  # noqa: E402
from core.config import make_config  # noqa: E402
from core.runs import RunStore  # noqa: E402
from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app  # noqa: E402

SETTLE = 8.0  # seconds after loading before a window starts


def window(page, url: str, run_id: str, refresh: str, server_pid: int, seconds: float) -> tuple[float, float]:
    """Server and browser CPU-s per second over `seconds`, the Train page watching the run."""
    page.goto(f"{url}/train?run={run_id}")
    page.get_by_text(refresh, exact=True).wait_for(timeout=60_000)
    if refresh != "every second":
        page.get_by_text(refresh, exact=True).click()
    time.sleep(SETTLE)
    t0, s0, b0 = time.time(), cpu_seconds([server_pid]), cpu_seconds(browser_pids())
    time.sleep(seconds)
    t1, s1, b1 = time.time(), cpu_seconds([server_pid]), cpu_seconds(browser_pids())
    assert page.locator('[data-testid="stException"]').count() == 0
    page.goto("about:blank")
    return (s1 - s0) / (t1 - t0), (b1 - b0) / (t1 - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--compare", type=Path, help="another checkout, measured alternately as 'before'")
    p.add_argument("--seconds", type=float, default=15, help="length of each measuring window")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--data",
        default="synthetic",
        help="what the watched run trains on (an image folder: "
        "epochs as long as real ones, so the gallery and accuracy change as rarely)",
    )
    p.add_argument("--preset", default="fast-cpu")
    p.add_argument("--refresh", nargs="+", default=["every second", "every 5 s", "off"])
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blitzlab-livecpu-"))
    store = RunStore(tmp / "runs")
    apps = {"now": start_app(store.root, tmp / "data", tmp / "now.log")}
    print(f"watching a {args.preset} run on {args.data}; load average {os.getloadavg()[0]:.1f}")
    if args.compare:
        apps["before"] = start_app(store.root, tmp / "data", tmp / "before.log", cwd=args.compare.resolve())
    run = jobs.start(make_config(args.preset, data=args.data, epochs=1000, device="cpu"), store)
    cells: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _round in range(args.rounds):
                for refresh in args.refresh:
                    for name, (app, url) in apps.items():
                        got = window(page, url, run.id, refresh, app.pid, args.seconds)
                        cells.setdefault((refresh, name), []).append(got)
                        print(
                            f"{refresh:12} {name:6} server {got[0]:.3f}  browser {got[1]:.3f} CPU-s/s",
                            flush=True,
                        )
            browser.close()
    finally:
        jobs.send(run, "stop")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        for app, _url in apps.values():
            app.terminate()
    print("\n| live updates | app | server CPU-s/s, median | browser CPU-s/s, median (windows) |")
    print("|---|---|---|---|")
    for (refresh, name), got in cells.items():
        browser = " · ".join(f"{b:.3f}" for _s, b in got)
        print(
            f"| {refresh} | {name} | {statistics.median(s for s, _b in got):.3f} "
            f"| {statistics.median(b for _s, b in got):.3f} ({browser}) |"
        )


if __name__ == "__main__":
    main()
