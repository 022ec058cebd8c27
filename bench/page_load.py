"""How long each page takes to load, and the language switch to repaint: this checkout against another.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/page_load.py --before /tmp/before --repeats 5

Each sample opens the page in a fresh Chromium context (no cached assets, a new Streamlit session) and
times it from navigation until the page's title is drawn and Streamlit's "running" indicator is gone.
Both checkouts' servers run at once and are sampled alternately (A, B, B, A, ...), so that load from
anything else on the machine hits both alike. Pages are those both checkouts have. The language switch
is this checkout's: from a page shown in English, time until the same page is drawn in 中文 (`?lang=zh`).
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

from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app, wait_rendered  # noqa: E402


def load_seconds(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    wait_rendered(page)
    seconds = time.perf_counter() - t0
    context.close()
    return seconds


def switch_seconds(browser, url: str) -> float:
    """From the page drawn in English to the same page drawn in 中文."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}?lang=en")
    wait_rendered(page)
    t0 = time.perf_counter()
    page.goto(f"{url}?lang=zh")
    page.wait_for_function("document.documentElement.innerText.match(/[\\u4e00-\\u9fff]/)", timeout=60_000)
    wait_rendered(page)
    seconds = time.perf_counter() - t0
    context.close()
    return seconds


def page_paths(checkout: Path) -> set[str]:
    return {"" if p.stem == "home" else p.stem for p in (checkout / "pages").glob("*.py")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--before", required=True, help="the other checkout (e.g. a git worktree of the base commit)"
    )
    p.add_argument("--repeats", type=int, default=5, help="samples of each page on each side")
    args = p.parse_args()
    before = Path(args.before).resolve()
    paths = sorted(page_paths(before) & page_paths(ROOT))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        servers = {
            side: start_app(tmp / side / "runs", tmp / side / "data", tmp / f"{side}.log", cwd=checkout)
            for side, checkout in (("before", before), ("after", ROOT))
        }
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for _, url in servers.values():  # each server's first run imports torch & co: not a page's cost
                load_seconds(browser, url)
            print("| page | before, s median (samples) | after, s median (samples) | after / before |")
            print("|---|---|---|---|")
            for path in paths:
                times: dict[str, list[float]] = {"before": [], "after": []}
                for i in range(args.repeats):
                    for side in ("before", "after")[:: 1 if i % 2 == 0 else -1]:
                        times[side].append(load_seconds(browser, f"{servers[side][1]}/{path}"))
                med = {side: statistics.median(t) for side, t in times.items()}
                runs = {side: " · ".join(f"{t:.2f}" for t in times[side]) for side in times}
                print(
                    f"| /{path} | **{med['before']:.2f}** ({runs['before']}) | **{med['after']:.2f}** "
                    f"({runs['after']}) | {med['after'] / med['before']:.2f} |",
                    flush=True,
                )
            switch = [switch_seconds(browser, f"{servers['after'][1]}/tensors") for _ in range(args.repeats)]
            print(
                f"\nlanguage switch English → 中文 on /tensors: median {statistics.median(switch):.2f} s "
                f"({' · '.join(f'{t:.2f}' for t in switch)})"
            )
        finally:
            browser.close()
            for proc, _ in servers.values():
                proc.terminate()


if __name__ == "__main__":
    main()
