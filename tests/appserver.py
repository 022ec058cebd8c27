"""Start `streamlit run app.py` on a free localhost port and wait until it answers (tests and bench/)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    runs_dir: Path, data_dir: Path, log_path: Path, timeout: float = 60, cwd: Path = ROOT, port: int = 0
) -> tuple[subprocess.Popen, str]:
    """The app of checkout `cwd` (this one by default; bench/ also starts other checkouts' to compare), on
    `port` (a free one when 0)."""
    port = port or free_port()
    env = {**os.environ, "BLITZLAB_RUNS_DIR": str(runs_dir), "BLITZLAB_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=cwd,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")


def chromium_path() -> str | None:
    import shutil

    for candidate in (os.environ.get("BLITZLAB_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def wait_rendered(page):
    """The page's title is drawn and its script has finished (Streamlit's status widget shows only after half
    a second of running, so its absence alone does not say that the run is over)."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60_000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def nav_links(page, url) -> list[str]:
    """Every page's address, as the sidebar navigation lists it."""
    page.goto(url)
    wait_rendered(page)
    return [a.get_attribute("href") for a in page.locator('[data-testid="stSidebarNav"] a').all()]
