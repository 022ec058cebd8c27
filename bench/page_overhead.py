"""What the live training page costs: images/s of one config trained headless through the CLI vs the same
config started as an app job and watched on the training page in Chromium, refreshing every second.
Throughput is taken after the first epoch (steady streaming; page load and start-up excluded).

    .venv/bin/python bench/page_overhead.py [--preset tutorial] [--epochs 6] [--repeats 2] \
        [--refresh "every 5 s"]

Alternates CLI and page runs on the same machine in one session and reports each and the median ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from core import jobs  # noqa: E402
from core.config import make_config  # noqa: E402
from core.runs import RunStore  # noqa: E402
from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app  # noqa: E402


def steady_images_per_s(run, batch_size: int) -> float:
    """Training images/s after the first epoch, from step timestamps: page loading and start-up are
    one-off costs; this measures the page while it streams. Evaluation between epochs is excluded."""
    by_epoch: dict[int, list[float]] = {}
    for e in run.events():
        if e["type"] == "step" and e["epoch"] >= 1:
            by_epoch.setdefault(e["epoch"], []).append(e["time"])
    steps = sum(len(t) - 1 for t in by_epoch.values())
    seconds = sum(t[-1] - t[0] for t in by_epoch.values())
    return steps * batch_size / seconds


def cli_run(tmp: Path, args: argparse.Namespace) -> float:
    runs = tmp / f"cli-{time.monotonic_ns()}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "core.train",
            "--data",
            args.data,
            "--preset",
            args.preset,
            "--epochs",
            str(args.epochs),
            "--device",
            "cpu",
            "--runs-dir",
            str(runs),
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (run,) = RunStore(runs).list()
    return steady_images_per_s(run, run.config()["batch_size"])


def page_run(page, url: str, store: RunStore, args: argparse.Namespace) -> float:
    """Start the same config as an app job and watch it on the training page until it ends."""
    run = jobs.start(make_config(args.preset, data=args.data, epochs=args.epochs, device="cpu"), store)
    page.goto(f"{url}/train?run={run.id}")
    if args.refresh != "every second":
        page.get_by_text(args.refresh, exact=True).click()
    while run.status in ("running", "paused"):
        time.sleep(0.5)
    assert page.locator('[data-testid="stException"]').count() == 0
    return steady_images_per_s(run, run.config()["batch_size"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="tutorial")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--refresh", default="every second", help="the page's live-update choice to measure")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blitzlab-bench-"))
    server, url = start_app(tmp / "app-runs", tmp / "data", tmp / "server.log")
    results = {"cli": [], "page": []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _ in range(args.repeats):
                results["cli"].append(cli_run(tmp, args))
                results["page"].append(page_run(page, url, RunStore(tmp / "app-runs"), args))
                print(
                    f"cli {results['cli'][-1]:,.0f} img/s   page {results['page'][-1]:,.0f} img/s", flush=True
                )
            browser.close()
    finally:
        server.terminate()
    ratio = statistics.median(results["page"]) / statistics.median(results["cli"])
    out = {
        "preset": args.preset,
        "data": args.data,
        "epochs": args.epochs,
        "refresh": args.refresh,
        **results,
        "page_over_cli": ratio,
        "date": time.strftime("%Y-%m-%d"),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    name = f"page_overhead-{args.preset}-{args.refresh.replace(' ', '_')}.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(out, indent=2))
    print(
        f"median: page {statistics.median(results['page']):,.0f} img/s vs cli "
        f"{statistics.median(results['cli']):,.0f} img/s → page costs {100 * (1 - ratio):.1f} %"
    )


if __name__ == "__main__":
    main()
