"""Training from the app against training from a terminal (issue 25): images/s of one config typed as a user
would (`python -m core.train …`), the same config started as an app job that nobody watches, and that job
watched on the training page in Chromium at each "Live updates" setting, with the CPU seconds the Streamlit
server and Chromium spend meanwhile.

    .venv/bin/python bench/page_overhead.py [--presets tutorial fast-cpu] [--data synthetic] [--epochs 3] \
        [--repeats 3] [--refresh "every second" "every 5 s" off] \
        [--wait-policies PASSIVE default spin=10000] [--job-threads all 1] [--checkout ../other]

The baseline is the terminal: `python -m core.train --preset P --data D --data-dir DIR --epochs E --device cpu
--runs-dir STORE` as a subprocess of this checkout, in the user's environment as it is, its default progress
output going to a file. An app job can differ from it in two ways, which the table keeps apart: the
environment (how its OpenMP threads wait), seen in the unwatched job against the terminal; and the page, seen
in each watched job against the unwatched one. `--wait-policies` A/B-tests the first within one session: for
each policy the app's jobs inherit OMP_WAIT_POLICY=PASSIVE or ACTIVE, GOMP_SPINCOUNT=N (spin=N), or neither
(default: libgomp's own short spin, as in the terminal); without it, jobs inherit the user's environment.
`--job-threads all 1` A/B-tests the threads an app job gets: every core (as the app starts it, and as in the
terminal) against N threads (`--threads N` added to the job's command line), e.g. a core left to the page.

Throughput skips the first quarter of the steps (page load and start-up) and the evaluation pauses. One round
= for each preset: the terminal run, then for each wait policy (and thread count) an unwatched app job and one
watched job per refresh setting (no page is open during the terminal and unwatched runs); rounds repeat, so
every cell's runs spread over the session (the machine's load drifts). Reports each run, the median per cell,
its cost against the terminal's median (and a watched cell's against its unwatched median) and the load
average seen; writes them to bench/results/ (git-ignored). `--checkout` serves another checkout's app (an
older live view, measured on the same machine in the same way); jobs and the terminal always run this
checkout's core.train.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from core import jobs  # noqa: E402
from core.config import make_config, positive_int  # noqa: E402
from core.devices import machine  # noqa: E402
from core.runs import Run, RunStore  # noqa: E402
from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CPU_KEYS = ("server_cpu_per_s", "browser_cpu_per_s")
REFRESH_SETTINGS = ("every second", "every 5 s", "off")
USER_ENV = dict(os.environ)  # the terminal's environment: the user's, before any policy is set for jobs
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")  # libgomp's: how its threads wait for work
APP_COMMAND = jobs.train_command  # the command line of a job the app starts


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far by kind (/proc/stat's first line: user, nice, system, idle, …, steal)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def steal_share(since: list[int]) -> float:
    """The share of CPU time since `since` that the hypervisor gave to other machines (steal): VM noise."""
    spent = [now - then for now, then in zip(cpu_ticks(), since)]
    return spent[7] / max(sum(spent[:8]), 1)


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


def terminal_run(preset: str, args: argparse.Namespace, runs: Path) -> float:
    """The config typed in a terminal, the baseline: `python -m core.train` with its default progress output
    (to a file), in the user's environment, from this checkout; the run folder is the one it prints."""
    argv = [sys.executable, "-m", "core.train", "--preset", preset, "--data", args.data]
    argv += ["--data-dir", str(args.data_dir), "--epochs", f"{args.epochs:g}", "--device", "cpu"]
    argv += ["--runs-dir", str(runs)]
    out, err = runs.parent / "terminal.out", runs.parent / "terminal.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        code = subprocess.run(
            argv, cwd=ROOT, env=USER_ENV, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        ).returncode
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} ended with status {code}:\n{err.read_text()[-2000:]}")
    lines = out.read_text().splitlines()
    folder = next(line.split(": ", 1)[1] for line in lines if line.startswith("run folder: "))
    return steady_window(Run(Path(folder)))[0]


def wait_policy(text: str) -> str:
    """--wait-policies' values: PASSIVE, ACTIVE, default or spin=N."""
    if text in ("PASSIVE", "ACTIVE", "default") or (text.startswith("spin=") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"'{text}': use PASSIVE, ACTIVE, default or spin=N (spin=10000)")


def jobs_wait(policy: str | None) -> str:
    """Make the app's next jobs wait as `policy` says (None: as in the user's environment) through the
    environment they inherit from this process (core/jobs.py passes it on); returns how they wait."""
    for name in WAIT_VARIABLES:
        os.environ.pop(name, None)
    if policy is None:
        os.environ.update({k: USER_ENV[k] for k in WAIT_VARIABLES if k in USER_ENV})
    elif policy.startswith("spin="):
        os.environ["GOMP_SPINCOUNT"] = policy.removeprefix("spin=")
    elif policy != "default":
        os.environ["OMP_WAIT_POLICY"] = policy
    return waiting(os.environ)


def waiting(env) -> str:
    """How OpenMP threads wait in this environment: its OMP_WAIT_POLICY / GOMP_SPINCOUNT, or "default"."""
    found = [env[k] if k == "OMP_WAIT_POLICY" else f"spin={env[k]}" for k in WAIT_VARIABLES if k in env]
    return " ".join(found) or "default"


def jobs_threads(choice: str) -> None:
    """Make the app's next jobs train on every core ("all", as the app starts them) or on N threads ("N":
    `--threads N` after the app's command line; argparse keeps the last)."""
    jobs.train_command = (
        APP_COMMAND if choice == "all" else lambda *a, **k: [*APP_COMMAND(*a, **k), "--threads", choice]
    )


def threads_label(choice: str) -> str:
    return "every core" if choice == "all" else f"{choice} thread{'s' if choice != '1' else ''}"


def thread_choice(text: str) -> str:
    """--job-threads' values: all, or a number of threads (at least 1)."""
    return text if text == "all" else str(positive_int(text))


def unwatched_run(store: RunStore, preset: str, args: argparse.Namespace) -> float:
    """The same config as an app job with no page open."""
    run = jobs.start(config(preset, args), store)
    while run.status in ("running", "paused"):
        time.sleep(0.5)
    return steady_window(run)[0]


def cpu_rate(samples: list[tuple[float, float, float]], t0: float, t1: float) -> tuple[float, float]:
    """CPU seconds per wall second of the server and the browser between the samples inside [t0, t1] (all
    of them when fewer than two fall inside: a window shorter than a second)."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    inside = inside if len(inside) > 1 else samples
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
    page.goto("about:blank")  # no page open in the next terminal or unwatched run
    rate, t0, t1 = steady_window(run)
    server, browser = cpu_rate(samples, t0, t1)
    return {"images_per_s": rate, "server_cpu_per_s": server, "browser_cpu_per_s": browser}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def record(cells: dict, loads: list[float], key: str, result: dict[str, float]) -> None:
    """Add one run's numbers to its cell ("preset|run as|live updates") and print them with the load now."""
    loads.append(os.getloadavg()[0])
    for k, v in result.items():
        cells.setdefault(key, {}).setdefault(k, []).append(v)
    cpu = "".join(f"  {k.split('_')[0]} {v:.3f} CPU-s/s" for k, v in result.items() if "cpu" in k)
    where = " · ".join(key.split("|"))
    print(f"{where:42} {result['images_per_s']:7,.0f} img/s{cpu}  load {loads[-1]:.1f}", flush=True)


def cost(img: list[float], against: float) -> str:
    """How much slower than `against` a cell's median is (negative: faster)."""
    return f"{100 * (1 - median(img) / against):.0f} %".replace("-", "−")


def table(cells: dict, presets: list[str], policies: list[str], settings: list[str], terminal: str) -> str:
    """The medians as a markdown table: images/s (each run), cost (how much slower; − faster) against the
    terminal and against the same policy's unwatched job (the page alone), CPU-s/s of server and browser."""
    rows = [
        "| preset | run as | OpenMP wait | live updates | img/s, median (runs) | cost vs terminal "
        "| page cost (vs app, no page) | server CPU-s/s | browser CPU-s/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for preset in presets:
        base = median(cells[f"{preset}|terminal|no page"]["images_per_s"])
        lines = [("terminal", terminal, "no page")]
        lines += [(f"app {policy}", policy, s) for policy in policies for s in ["no page", *settings]]
        for run_as, wait, setting in lines:
            c = cells[f"{preset}|{run_as}|{setting}"]
            img = c["images_per_s"]
            runs = " · ".join(f"{v:,.0f}" for v in img)
            alone = median(cells[f"{preset}|{run_as}|no page"]["images_per_s"])
            vs = [
                "–" if run_as == "terminal" else cost(img, base),
                "–" if setting == "no page" else cost(img, alone),
            ]
            cpu = [f"{median(c[k]):.3f}" if k in c else "–" for k in CPU_KEYS]
            rows.append(
                f"| {preset} | {run_as.split()[0]} | {wait} | {setting} | {median(img):,.0f} ({runs}) "
                f"| {' | '.join(vs + cpu)} |"
            )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(
        description="images/s of a config typed in a terminal, as an app job, and watched on the Train page"
    )
    p.add_argument("--presets", nargs="+", default=["tutorial", "fast-cpu"])
    p.add_argument("--data", default="synthetic", help="synthetic, cifar10, or a folder of train/ and test/")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "blitzlab-bench-data",
        help="where CIFAR-10 and decoded caches live (shared by the terminal and the app)",
    )
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--refresh", nargs="+", default=list(REFRESH_SETTINGS), help="live-update settings")
    p.add_argument(
        "--wait-policies",
        nargs="+",
        type=wait_policy,
        default=[None],
        metavar="POLICY",
        help="how the app's jobs' OpenMP threads wait, each measured in every round (unwatched and watched): "
        "PASSIVE, ACTIVE, default (no variable, as in a terminal) or spin=N (GOMP_SPINCOUNT=N); "
        "default: the user's environment, which jobs inherit",
    )
    p.add_argument(
        "--job-threads",
        nargs="+",
        type=thread_choice,
        default=["all"],
        help="the threads of the app's jobs, each measured in every round: all (every core, as the app "
        "starts them) or N (e.g. 1: a core left to the page on 2 cores)",
    )
    p.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose app is served")
    p.add_argument(
        "--compare",
        type=Path,
        help="another checkout (e.g. the commit before a change): its page is watched too, every second, "
        "once per round and policy, as the setting 'before'",
    )
    p.add_argument("--label", default="", help="a name for this measurement in the results file")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blitzlab-bench-"))
    store = RunStore(tmp / "app-runs")
    terminal_runs = tmp / "terminal-runs"
    terminal_runs.mkdir()
    server, url = start_app(store.root, args.data_dir, tmp / "server.log", cwd=args.checkout.resolve())
    servers = {"": (server, url)}
    if args.compare:
        servers["before"] = start_app(
            store.root, args.data_dir, tmp / "before.log", cwd=args.compare.resolve()
        )
    settings = [(refresh, "") for refresh in args.refresh] + (
        [("every second", "before")] if args.compare else []
    )
    waits = {policy: jobs_wait(policy) if policy is None else policy for policy in args.wait_policies}
    # each (wait policy, threads) pair is measured in every round; its label names both when threads vary
    policies = {
        (policy, threads): label if args.job_threads == ["all"] else f"{label}, {threads_label(threads)}"
        for policy, label in waits.items()
        for threads in args.job_threads
    }
    terminal = waiting(USER_ENV)
    cells: dict[str, dict] = {}
    loads = [os.getloadavg()[0]]
    ticks = cpu_ticks()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _round in range(args.repeats):
                for preset in args.presets:
                    result = {"images_per_s": terminal_run(preset, args, terminal_runs)}
                    record(cells, loads, f"{preset}|terminal|no page", result)
                    for (policy, threads), label in policies.items():
                        jobs_wait(policy)
                        jobs_threads(threads)
                        result = {"images_per_s": unwatched_run(store, preset, args)}
                        record(cells, loads, f"{preset}|app {label}|no page", result)
                        for refresh, which in settings:
                            app, app_url = servers[which]
                            result = page_run(page, app_url, store, app.pid, preset, refresh, args)
                            record(cells, loads, f"{preset}|app {label}|{which or refresh}", result)
            browser.close()
    finally:
        for app, _url in servers.values():
            app.terminate()
    stolen = steal_share(ticks)
    # the CPU model and the threads a terminal run gets (torch's default here; core.train sets every core)
    print(f"\nmachine: {machine(torch.device('cpu'))}, {os.cpu_count()} cores")
    print(f"\nload average (1 min) seen: {min(loads):.1f}–{max(loads):.1f}; {stolen:.0%} of CPU time stolen")
    labels = list(policies.values())
    print(table(cells, args.presets, labels, [which or refresh for refresh, which in settings], terminal))
    out = {
        "label": args.label,
        "checkout": str(args.checkout),
        "compare": str(args.compare or ""),
        "presets": args.presets,
        "data": args.data,
        "epochs": args.epochs,
        "terminal_wait": terminal,
        "wait_policies": labels,
        "job_threads": args.job_threads,
        "cells": cells,
        "load_average": loads,
        "steal": stolen,
        "machine": machine(torch.device("cpu")),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    name = f"page_overhead-{args.label or 'run'}-{time.strftime('%H%M%S')}.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(out, indent=2))
    print(f"results: bench/results/{name}")


if __name__ == "__main__":
    main()
