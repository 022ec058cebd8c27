"""Cold start: from `streamlit run app.py` to the first page drawn and idle in Chromium, this checkout
against another, alternated (A B, B A, ...), medians.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/cold_start.py --before /tmp/before --repeats 5 [--browser-cache]

Each sample starts a fresh server (nothing imported yet) and a fresh browser page; the clock runs from the
server's launch until Home's title is drawn and Streamlit's "running" indicator is gone. Without
--browser-cache each page comes in a new browser context (a first visit: Streamlit's JavaScript downloaded
and compiled); with it, each side keeps one context and one port, and its cache is filled once before the
samples (a returning user: `make run` serves on the same port every time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.appserver import CHROMIUM_ARGS, chromium_path, free_port, start_app, wait_rendered  # noqa: E402


def cold_start_seconds(context, checkout: Path, port: int = 0) -> float:
    """One start of the server; `context` a browser context (or the browser: a new context each time)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        proc, url = start_app(tmp / "runs", tmp / "data", tmp / "server.log", cwd=checkout, port=port)
        page = context.new_page()
        page.goto(url)
        wait_rendered(page)
        seconds = time.perf_counter() - t0
        page.close()
        proc.terminate()
        proc.wait(10)
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--before", required=True, help="the other checkout (e.g. a git worktree of the base commit)"
    )
    p.add_argument("--repeats", type=int, default=5, help="cold starts of each side")
    p.add_argument("--browser-cache", action="store_true", help="a returning user's browser (see above)")
    args = p.parse_args()
    sides = {"before": Path(args.before).resolve(), "after": ROOT}
    times: dict[str, list[float]] = {side: [] for side in sides}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        contexts = {side: (browser, 0) for side in sides}
        if args.browser_cache:
            contexts = {side: (browser.new_context(), free_port()) for side in sides}
            for side, (context, port) in contexts.items():
                cold_start_seconds(context, sides[side], port)  # fills the cache
        for i in range(args.repeats):
            for side in list(sides)[:: 1 if i % 2 == 0 else -1]:
                times[side].append(cold_start_seconds(contexts[side][0], sides[side], contexts[side][1]))
        browser.close()
    for side, t in times.items():
        print(f"{side}: median {statistics.median(t):.2f} s ({' · '.join(f'{x:.2f}' for x in t)})")


if __name__ == "__main__":
    main()
