"""Shared fixtures: small generated data, a temporary runs dir, and a live app server for browser tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data import make_synthetic  # noqa: E402


@pytest.fixture(scope="session")
def small_data():
    """1,000 train / 200 test generated images: enough to learn, quick to train."""
    return make_synthetic(1000, 200, seed=1)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    monkeypatch.setenv("BLITZLAB_RUNS_DIR", str(d))
    monkeypatch.setenv("BLITZLAB_DATA_DIR", str(tmp_path / "data"))
    return d


def chromium_path() -> str | None:
    for candidate in (os.environ.get("BLITZLAB_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a free localhost port, with its own runs and data dirs."""
    tmp = tmp_path_factory.mktemp("app")
    port = free_port()
    env = {**os.environ, "BLITZLAB_RUNS_DIR": str(tmp / "runs"), "BLITZLAB_DATA_DIR": str(tmp / "data")}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {(tmp / 'server.log').read_text()[-2000:]}")
    yield {"url": url, "runs_dir": tmp / "runs", "data_dir": tmp / "data"}
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium not installed (make test installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()
