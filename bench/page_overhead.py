"""What the live training page costs: images/s of one config trained headless through the CLI vs the same
config started as an app job while the training page is open in Chromium and refreshing every second.

    .venv/bin/python bench/page_overhead.py [--preset tutorial] [--epochs 6] [--repeats 2]

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

from core import jobs  # noqa: E402
from core.runs import RunStore  # noqa: E402
from core.train import make_config  # noqa: E402
from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app  # noqa: E402


def images_per_s(summary: dict, train_images: int) -> float:
    return summary["epochs_completed"] * train_images / summary["train_seconds"]


def cli_run(tmp: Path, args: argparse.Namespace) -> float:
    runs = tmp / f"cli-{time.monotonic_ns()}"
    subprocess.run([sys.executable, "-m", "core.train", "--data", args.data, "--preset", args.preset, "--epochs",
                    str(args.epochs), "--device", "cpu", "--runs-dir", str(runs), "--quiet"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    (run,) = RunStore(runs).list()
    return images_per_s(run.summary(), args.train_images)


def page_run(page, url: str, store: RunStore, args: argparse.Namespace) -> float:
    run = jobs.start(make_config(args.preset, data=args.data, epochs=args.epochs, device="cpu"), store)
    page.goto(f"{url}/train?run={run.id}")
    while run.status in ("running", "paused"):
        time.sleep(0.5)
    assert page.locator('[data-testid="stException"]').count() == 0
    return images_per_s(run.summary(), args.train_images)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="tutorial")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--train-images", type=int, default=5000, help="training images in --data")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright
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
                print(f"cli {results['cli'][-1]:,.0f} img/s   page {results['page'][-1]:,.0f} img/s", flush=True)
            browser.close()
    finally:
        server.terminate()
    ratio = statistics.median(results["page"]) / statistics.median(results["cli"])
    out = {"preset": args.preset, "data": args.data, "epochs": args.epochs, **results, "page_over_cli": ratio,
           "date": time.strftime("%Y-%m-%d")}
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / f"page_overhead-{args.preset}.json").write_text(json.dumps(out, indent=2))
    print(f"median: page {statistics.median(results['page']):,.0f} img/s vs cli "
          f"{statistics.median(results['cli']):,.0f} img/s → page costs {100 * (1 - ratio):.1f} %")


if __name__ == "__main__":
    main()
