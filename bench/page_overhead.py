"""What the live training page costs: images/s of one config started as an app job that nobody watches vs
the same job watched on the training page in Chromium, at each "Live updates" setting, with the CPU seconds
the Streamlit server and Chromium spend meanwhile.

    .venv/bin/python bench/page_overhead.py [--presets tutorial fast-cpu] [--data synthetic] [--epochs 3] \
        [--repeats 3] [--refresh "every second" "every 5 s" off] [--checkout ../other]

The baseline is an app job, not the CLI: both then run with the same environment (passive OpenMP waiting),
so the difference is the page alone; the CLI's spinning OpenMP threads make it a different, load-sensitive
number on a busy machine. Throughput skips the first quarter of the steps (page load and start-up) and the
evaluation pauses. One round = for each preset: an unwatched run, then one watched run per refresh setting;
rounds repeat, so every cell's runs spread over the session (the machine's load drifts). Reports each run,
the median per cell, the cost against the unwatched median and the load average seen. `--checkout` serves
another checkout's app (an older live view, measured on the same machine in the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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

TICK = os.sysconf("SC_CLK_TCK")
CPU_KEYS = ("server_cpu_per_s", "browser_cpu_per_s")
REFRESH_SETTINGS = ("every second", "every 5 s", "off")


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        if (f := _stat(pid)) is not None:
            total += int(f[11]) + int(f[12])
    return total / TICK


def browser_pids() -> list[int]:
    """Chromium's processes: this process's descendants named chrom* (browser, renderers, GPU, utility)."""
    parent, name = {}, {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (f := _stat(int(d.name))) is not None:
            parent[int(d.name)] = int(f[1])
            try:
                name[int(d.name)] = (d / "comm").read_text().strip()
            except OSError:
                name[int(d.name)] = ""

    def mine(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [p for p in parent if name[p].startswith("chrom") and mine(p)]


def steady_window(run) -> tuple[float, float, float]:
    """Training images/s from step timestamps after the first quarter of the steps, and that window's first
    and last step time: page loading and start-up are one-off costs; this measures the page while it
    streams. Evaluation between epochs is excluded (each epoch's steps are timed on their own)."""
    steps = [e for e in run.events() if e["type"] == "step"]
    first = steps[len(steps) // 4]
    by_epoch: dict[int, list[tuple[float, int]]] = {}
    for e in steps[len(steps) // 4 :]:
        by_epoch.setdefault(e["epoch"], []).append((e["time"], e["global_step"]))
    done = sum(t[-1][1] - t[0][1] for t in by_epoch.values())
    seconds = sum(t[-1][0] - t[0][0] for t in by_epoch.values())
    return done * run.config()["batch_size"] / seconds, first["time"], steps[-1]["time"]


def config(preset: str, args: argparse.Namespace):
    return make_config(preset, data=args.data, data_dir=str(args.data_dir), epochs=args.epochs, device="cpu")


def unwatched_run(store: RunStore, preset: str, args: argparse.Namespace) -> float:
    """The same app job with no page open: the baseline."""
    run = jobs.start(config(preset, args), store)
    while run.status in ("running", "paused"):
        time.sleep(0.5)
    return steady_window(run)[0]


def cpu_rate(samples: list[tuple[float, float, float]], t0: float, t1: float) -> tuple[float, float]:
    """CPU seconds per wall second of the server and the browser between the samples inside [t0, t1]."""
    inside = [s for s in samples if t0 <= s[0] <= t1] or samples
    (a, sa, ba), (b, sb, bb) = inside[0], inside[-1]
    span = max(b - a, 1e-9)
    return (sb - sa) / span, (bb - ba) / span


def page_run(page, url: str, store: RunStore, server_pid: int, preset: str, refresh: str, args) -> dict:
    """Start the same config as an app job and watch it on the training page until it ends, sampling the
    server's and Chromium's CPU time twice a second."""
    run = jobs.start(config(preset, args), store)
    page.goto(f"{url}/train?run={run.id}")
    if refresh != "every second":
        page.get_by_text(refresh, exact=True).click()
    samples = []
    while run.status in ("running", "paused"):
        samples.append((time.time(), cpu_seconds([server_pid]), cpu_seconds(browser_pids())))
        time.sleep(0.5)
    assert page.locator('[data-testid="stException"]').count() == 0
    rate, t0, t1 = steady_window(run)
    server, browser = cpu_rate(samples, t0, t1)
    return {"images_per_s": rate, "server_cpu_per_s": server, "browser_cpu_per_s": browser}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def record(cells: dict, loads: list[float], preset: str, setting: str, result: dict[str, float]) -> None:
    """Add one run's numbers to its cell and print them with the load average now."""
    loads.append(os.getloadavg()[0])
    for k, v in result.items():
        cells.setdefault(f"{preset}|{setting}", {}).setdefault(k, []).append(v)
    cpu = "".join(f"  {k.split('_')[0]} {v:.3f} CPU-s/s" for k, v in result.items() if "cpu" in k)
    print(
        f"{preset:9} {setting:12} {result['images_per_s']:7,.0f} img/s{cpu}  load {loads[-1]:.1f}", flush=True
    )


def table(cells: dict, presets: list[str], settings: list[str]) -> str:
    """The medians as a markdown table: images/s (each run), cost against the unwatched job, CPU-s/s."""
    rows = [
        "| preset | live updates | img/s, median (runs) | page costs | server CPU-s/s | browser CPU-s/s |"
    ]
    for preset in presets:
        alone = median(cells[f"{preset}|no page"]["images_per_s"])
        for setting in ["no page", *settings]:
            c = cells[f"{preset}|{setting}"]
            img = c["images_per_s"]
            runs = " · ".join(f"{v:,.0f}" for v in img)
            cost = "–" if setting == "no page" else f"{100 * (1 - median(img) / alone):.0f} %"
            cpu = [
                f"{median(c[k]):.3f}" if k in c else "–" for k in ("server_cpu_per_s", "browser_cpu_per_s")
            ]
            rows.append(
                f"| {preset} | {setting} | {median(img):,.0f} ({runs}) | {cost} | {' | '.join(cpu)} |"
            )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["tutorial", "fast-cpu"])
    p.add_argument("--data", default="synthetic")
    p.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "blitzlab-bench-data")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--refresh", nargs="+", default=list(REFRESH_SETTINGS), help="live-update settings")
    p.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose app is served")
    p.add_argument(
        "--compare",
        type=Path,
        help="another checkout (e.g. the commit before a change): its page is watched too, every second, "
        "once per round, as the setting 'before'",
    )
    p.add_argument("--label", default="", help="a name for this measurement in the results file")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blitzlab-bench-"))
    store = RunStore(tmp / "app-runs")
    server, url = start_app(store.root, args.data_dir, tmp / "server.log", cwd=args.checkout.resolve())
    servers = {"": (server, url)}
    if args.compare:
        servers["before"] = start_app(
            store.root, args.data_dir, tmp / "before.log", cwd=args.compare.resolve()
        )
    settings = [(refresh, "") for refresh in args.refresh] + (
        [("every second", "before")] if args.compare else []
    )
    cells: dict[str, dict] = {}
    loads = [os.getloadavg()[0]]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _round in range(args.repeats):
                for preset in args.presets:
                    record(
                        cells, loads, preset, "no page", {"images_per_s": unwatched_run(store, preset, args)}
                    )
                    for refresh, which in settings:
                        app, app_url = servers[which]
                        result = page_run(page, app_url, store, app.pid, preset, refresh, args)
                        record(cells, loads, preset, which or refresh, result)
            browser.close()
    finally:
        for app, _url in servers.values():
            app.terminate()
    print(f"\nload average (1 min) seen: {min(loads):.1f}–{max(loads):.1f}")
    print(table(cells, args.presets, [which or refresh for refresh, which in settings]))
    out = {
        "label": args.label,
        "checkout": str(args.checkout),
        "compare": str(args.compare or ""),
        "presets": args.presets,
        "data": args.data,
        "epochs": args.epochs,
        "cells": cells,
        "load_average": loads,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    name = f"page_overhead-{args.label or 'run'}-{time.strftime('%H%M%S')}.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
