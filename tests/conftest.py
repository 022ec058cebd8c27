"""Shared fixtures: small generated data, a temporary runs dir, trained runs, and a live app server with
a headless Chromium for browser tests. Test modules share code through these fixtures and the helper
modules beside them (appserver, apptest, wait), never by importing each other."""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data import make_synthetic
from core.runs import Run, RunStore
from tests.appserver import CHROMIUM_ARGS, chromium_path, start_app


@pytest.fixture(scope="session", autouse=True)
def _scan_installed_components_once():
    """Streamlit's AppTest scans every installed package's metadata for components on each new AppTest
    (0.3-0.5 s with torch's ~80 distributions; hundreds of AppTests in the suite). The installed packages do
    not change during a test session, so the real scan runs once and its result is reused."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    manifest_scanner.scan_component_manifests = functools.cache(scan)
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture(scope="session")
def small_data():
    """1,000 train / 200 test generated images: enough to learn, quick to train."""
    return make_synthetic(1000, 200, seed=1)


@pytest.fixture(scope="session")
def demo_set():
    """make_synthetic's full demo set as the engine draws it (read only: tests compare against it)."""
    return make_synthetic()


@pytest.fixture(scope="session", autouse=True)
def _data_dir_outside_the_checkout(tmp_path_factory):
    """Tests that name no data folder keep their caches (the demo set's is 18 MB) in one folder of the
    session, not in the checkout's ./data; runs_dir gives a test a folder of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BLITZLAB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    monkeypatch.setenv("BLITZLAB_RUNS_DIR", str(d))
    monkeypatch.setenv("BLITZLAB_DATA_DIR", str(tmp_path / "data"))
    return d


@pytest.fixture(scope="session")
def _trained_once(tmp_path_factory) -> Run:
    """One completed run (2 epochs of the tutorial net on generated data), trained once per session."""
    # imported here so that only the tests that train depend on the training engine
    from core.config import make_config
    from core.trainer import train

    cfg = make_config(
        data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, epochs=2, device="cpu"
    )
    run = RunStore(tmp_path_factory.mktemp("trained")).create(asdict(cfg), name="trained")
    train(cfg, run)
    return run


@pytest.fixture
def copy_trained(_trained_once) -> Callable[[Path, str], Run]:
    """Copies the session's trained run into a runs folder: its files under a new id created now (the
    newest run there), so a test may change its copy."""

    def copy(root: Path, name: str) -> Run:
        run = RunStore(root).create(_trained_once.config(), name=name)
        for path in _trained_once.path.iterdir():
            if path.name not in ("config.json", "summary.json"):
                shutil.copy2(path, run.path / path.name)
        run.write_summary({**_trained_once.summary(), "name": name, "created": run.summary()["created"]})
        return run

    return copy


@pytest.fixture
def trained_run(runs_dir, copy_trained) -> Callable[[str], Run]:
    """Makes a completed run in `runs_dir`, for the pages that read trained models (a copy, see above)."""
    return lambda name: copy_trained(runs_dir, name)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a free localhost port, with its own runs and data dirs."""
    tmp = tmp_path_factory.mktemp("app")
    proc, url = start_app(tmp / "runs", tmp / "data", tmp / "server.log")
    yield {"url": url, "runs_dir": tmp / "runs", "data_dir": tmp / "data", "pid": proc.pid}
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium not installed (make test installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def no_leftover_jobs():
    """A failing test must not leave a training process behind."""
    yield
    from core import jobs

    for proc in list(jobs._children.values()):
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    jobs._children.clear()
