"""Issue 14: nothing a user types, kills or leaves on disk breaks a page.

Real processes, real run folders, real pages (AppTest) and a real server: a killed job is `interrupted`
within 2 s, every page renders beside every kind of damaged run folder, actions from a stale page hit the
run they name or say why not, the CLI refuses before creating anything, and only localhost reaches the
server."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import jobs
from core.config import make_config
from core.runs import RunError, RunStore, pid_alive
from core.train import main as train_main
from core.trainer import train
from tests.appserver import ROOT
from tests.apptest import APP, open_page
from tests.wait import wait_for

LONG = dict(
    data="synthetic", model="tutorial", optimizer="adam", lr=1e-3, batch_size=4, epochs=50, device="cpu"
)
HEALTHY = "20260101-000000-healthy-0000"
DAMAGED = "20260101-000001-damaged-0000"  # newer: listed first, and the pages' default pick


def plain(markdown: str) -> str:
    """Markdown escaped by ui.safe.md, as the browser shows it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def shown(at: AppTest) -> str:
    """Every text a page shows in markdown, alerts and captions, unescaped."""
    parts = [*at.markdown, *at.error, *at.warning, *at.info, *at.caption]
    return " | ".join(plain(p.value) for p in parts)


# --- liveness ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_killed_with_sigkill_is_interrupted_within_2_s_and_reaped(tmp_path, capsys):
    store = RunStore(tmp_path)
    run = jobs.start(make_config(**LONG), store)
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    pid = run.summary()["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    # nobody has reaped it yet: a zombie of this process, which still counts as dead
    wait_for(lambda: run.status == "interrupted", 2)
    seconds = time.monotonic() - killed
    with capsys.disabled():
        print(f"\nkill -9 → interrupted (core): {seconds:.3f} s")
    assert not pid_alive(pid)
    # the next liveness check reaps it (SIGKILL is delivered asynchronously: the kernel may not have
    # finished the process at the very first check)
    wait_for(lambda: jobs.active_runs(store) == [] and not Path(f"/proc/{pid}").exists(), 2)


def test_a_reused_pid_is_not_taken_for_the_run(tmp_path):
    run = RunStore(tmp_path).create({"model": "tutorial"})
    summary = json.loads((run.path / "summary.json").read_text())
    # this very process, claimed with another start time: a recycled pid, so the owner is gone
    run.write_summary({**summary, "pid_started": summary["pid_started"] + 1})
    assert run.status == "interrupted"


def test_a_live_job_without_events_for_far_longer_than_usual_is_stalled(tmp_path):
    run = RunStore(tmp_path).create({"model": "tutorial"})
    now = time.time()
    for i in range(20):  # the run's rhythm: an event every 0.1 s
        run.append({"type": "step", "epoch": 0, "step": i, "global_step": i, "loss": 1.0, "lr": 0.1,
                    "time": now - 600 + 0.1 * i})  # fmt: skip
    run.close()
    assert run.status == "running"  # files just written
    old = now - 600
    for path in (run.metrics_path, run.path / "summary.json"):
        os.utime(path, (old, old))
    summary = run.summary()
    assert summary["status"] == "stalled" and summary["quiet_seconds"] >= 599
    with pytest.raises(RunError, match="still stalled"):  # a live process: it is not deleted under it
        RunStore(tmp_path).delete(run.id)


@pytest.mark.slow
@pytest.mark.browser
def test_the_open_train_page_shows_a_killed_job_as_interrupted_within_2_s(page, app_server, capsys):
    from playwright.sync_api import expect

    page.goto(f"{app_server['url']}/train")
    start = page.get_by_role("button", name="Start training")
    start.wait_for(timeout=60_000)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("50")
    epochs.press("Enter")
    expect(page.locator('[data-testid="stCode"]').filter(has_text="--epochs 50")).to_have_count(1)
    start.click()
    header = page.locator('[data-testid="stMarkdownContainer"] h4').first
    expect(header).to_contain_text("running", timeout=30_000)
    (run,) = [r for r in RunStore(app_server["runs_dir"]).list() if r.status == "running"]
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    os.kill(run.summary()["pid"], signal.SIGKILL)  # a child of the app server: a zombie until reaped
    killed = time.monotonic()
    expect(header).to_contain_text("interrupted", timeout=2_000)
    seconds = time.monotonic() - killed
    with capsys.disabled():
        print(f"\nkill -9 → interrupted (open page, Chromium): {seconds:.3f} s")
    # once the page has settled: one live view, with the log and a Resume button
    expect(page.get_by_role("button", name="Resume run")).to_have_count(1, timeout=10_000)
    expect(page.get_by_text("train.log", exact=True)).to_have_count(1)
    assert page.locator('[data-testid="stException"]').count() == 0


# --- damaged run folders -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory) -> Path:
    """One completed run (every file a run saves), copied into each test's runs folder."""
    root = tmp_path_factory.mktemp("template")
    cfg = make_config(data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, epochs=1,
                      device="cpu")  # fmt: skip
    run = RunStore(root).create(asdict(cfg), name="template")
    train(cfg, run)
    (run.path / "train.log").write_text("a log line\n")
    return run.path


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x80\x04garbage\x00\xff" * 10)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


DAMAGE = {
    "config truncated": lambda p: _truncate(p / "config.json"),
    "config garbage": lambda p: _garbage(p / "config.json"),
    "config missing": lambda p: (p / "config.json").unlink(),
    "config a folder": lambda p: _folder(p / "config.json"),
    "config a list": lambda p: (p / "config.json").write_text("[1, 2]"),
    "config wrong values": lambda p: (p / "config.json").write_text('{"model": 5, "lr": "x", "data": 3}'),
    "config an empty object": lambda p: (p / "config.json").write_text("{}"),  # issue 24
    "config an unknown key": lambda p: (p / "config.json").write_text(
        json.dumps({**json.loads((p / "config.json").read_text()), "bogus": 1})
    ),
    "summary truncated": lambda p: _truncate(p / "summary.json"),
    "summary missing": lambda p: (p / "summary.json").unlink(),
    "summary unknown status": lambda p: (p / "summary.json").write_text('{"status": "exploded"}'),
    "metrics garbage lines": lambda p: open(p / "metrics.jsonl", "ab").write(
        b'\xff\xfe junk\n5\n{"type": "step", "loss": "x"}\n{"type": "epoch", "samples": 3}\n'
    ),
    "metrics a folder": lambda p: _folder(p / "metrics.jsonl"),
    "samples garbage": lambda p: _garbage(p / "samples.pt"),
    "samples truncated": lambda p: _truncate(p / "samples.pt"),
    "samples wrong content": lambda p: torch.save({"images": "x"}, p / "samples.pt"),
    "checkpoint garbage": lambda p: _garbage(p / "checkpoint.pt"),
    "checkpoint truncated": lambda p: _truncate(p / "checkpoint.pt"),
    "model garbage": lambda p: _garbage(p / "model.pth"),
    "model truncated": lambda p: _truncate(p / "model.pth"),
    "empty folder": lambda p: [f.unlink() for f in p.iterdir()],
    "a file instead of the folder": lambda p: (shutil.rmtree(p), p.write_text("not a run")),
}
PAGES = ("pages/home.py", "pages/train.py", "pages/report.py", "pages/classify.py")


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_page_renders_beside_a_damaged_run_and_names_it(runs_dir, trained_template, damage):
    shutil.copytree(trained_template, runs_dir / HEALTHY)
    shutil.copytree(trained_template, runs_dir / DAMAGED)
    DAMAGE[damage](runs_dir / DAMAGED)
    for page in PAGES:
        at = open_page(page)
        assert not at.exception, (page, [e.value for e in at.exception])
    # the train page lists it as damaged and says what is wrong; the healthy run is untouched
    at = open_page("pages/train.py")
    table = next(t.value for t in at.dataframe if "problems" in t.value.columns)
    rows = table.set_index("run")
    assert rows.loc[DAMAGED, "status"] == "damaged" and rows.loc[DAMAGED, "problems"]
    assert rows.loc[HEALTHY, "status"] == "completed" and not rows.loc[HEALTHY, "problems"]
    # its own live view, opened by id, explains instead of failing
    at.query_params["run"] = DAMAGED
    at.run()
    assert not at.exception and DAMAGED in shown(at)


def test_a_runs_folder_that_is_a_file_is_explained(runs_dir):
    runs_dir.parent.mkdir(parents=True, exist_ok=True)
    runs_dir.write_text("oops")
    for page in PAGES:
        at = open_page(page)
        assert not at.exception, page
    assert "is a file, not a folder" in shown(open_page("pages/train.py"))


# --- actions bound to ids ---------------------------------------------------------------------------------


def _select(at: AppTest, run_id: str) -> None:
    """Select `run_id`'s row in the runs table, as a click would."""
    table = next(t for t in at.dataframe if "problems" in t.value.columns)
    row = table.value["run"].tolist().index(run_id)
    at.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()


@pytest.mark.slow
def test_delete_from_a_stale_page_deletes_the_run_it_showed_or_says_why(runs_dir, trained_template):
    store = RunStore(runs_dir)
    shutil.copytree(trained_template, runs_dir / HEALTHY)
    shutil.copytree(trained_template, runs_dir / DAMAGED)
    x = store.open(HEALTHY)
    a = open_page("pages/train.py")
    _select(a, HEALTHY)
    # another tab adds a newer run: every row position shifts by one
    shutil.copytree(trained_template, runs_dir / "20260101-000002-newer-0000")
    a.button(key="runs_delete").click().run()
    assert not a.exception
    assert sorted(r.id for r in store.list()) == [DAMAGED, "20260101-000002-newer-0000"]
    assert not x.path.exists()
    # the same race against a run resumed in another tab since the page drew it: refused with a message
    a = open_page("pages/train.py")
    _select(a, DAMAGED)
    summary = json.loads((runs_dir / DAMAGED / "summary.json").read_text())
    store.open(DAMAGED).write_summary({**summary, "status": "running", "pid": os.getpid(),
                                       "host": socket.gethostname(), "pid_started": None})  # fmt: skip
    a.button(key="runs_delete").click().run()
    assert not a.exception and (runs_dir / DAMAGED).is_dir()
    assert f"Run {DAMAGED} is now running" in shown(a)


@pytest.mark.slow
def test_resume_from_a_stale_page_says_the_run_changed(runs_dir, trained_template):
    store = RunStore(runs_dir)
    shutil.copytree(trained_template, runs_dir / HEALTHY)
    run = store.open(HEALTHY)
    summary = json.loads((run.path / "summary.json").read_text())
    run.write_summary({**summary, "status": "stopped"})
    a = open_page("pages/train.py")
    _select(a, HEALTHY)
    b = open_page("pages/train.py")
    _select(b, HEALTHY)
    a.button(key="runs_resume").click().run()  # tab A resumes it
    assert not a.exception and run.status in ("running", "completed")
    b.button(key="runs_resume").click().run()  # tab B still shows it stopped
    assert not b.exception and f"Run {HEALTHY} is now" in shown(b)
    wait_for(lambda: run.status == "completed", 60)


# --- refused before anything is created ---------------------------------------------------------------------


def _cli(*argv: str, runs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.train", *argv, "--runs-dir", str(runs), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fake_pngs(root: Path) -> Path:
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                (root / split / name / f"{i}.png").write_text("not a png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, flag, says",
    [
        (["--data", "synthetic", "--batch-size", "6000"], "--batch-size", "larger than the 5,000 training"),
        (["--data", "synthetic", "--batch-size", "100000"], "--batch-size", "from 1 to 65536"),
        (["--data", "synthetic", "--lr", "1e9"], "--lr", "at most 10"),
        (["--data", "{tmp}/nowhere"], "--data", "does not exist"),
        (["--data", "/etc"], "--data", "not in ImageFolder layout"),
        (["--data", "{fake}"], "--data", "opens as an image"),
        (["--data", "synthetic", "--device", "cuda:9"], "--device", "not available"),
        (["--data", "synthetic", "--threads", "0"], "argument --threads", "at least 1"),
    ],
)
def test_the_cli_refuses_with_one_line_and_no_run_folder(tmp_path, capsys, args, flag, says):
    fake = _fake_pngs(tmp_path / "fake")
    argv = [a.format(tmp=tmp_path, fake=fake) for a in args]
    # core.train's main in this process (the resume tests below run the command in its own): argparse's exit 2
    try:
        with pytest.raises(SystemExit) as exited:
            train_main([*argv, "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    finally:
        torch.set_flush_denormal(False)  # main sets it for the process it expects to own
    stderr = capsys.readouterr().err
    assert exited.value.code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and f"error: {flag}: " in lines[0] and says in lines[0], stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["checkpoint garbage", "checkpoint truncated"])
def test_resume_of_a_tampered_checkpoint_is_one_line(tmp_path, trained_template, damage):
    runs = tmp_path / "runs"
    shutil.copytree(trained_template, runs / HEALTHY)
    summary = json.loads((runs / HEALTHY / "summary.json").read_text())
    (runs / HEALTHY / "summary.json").write_text(json.dumps({**summary, "status": "stopped"}))
    DAMAGE[damage](runs / HEALTHY)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (runs / HEALTHY).iterdir())
    done = _cli("--resume", HEALTHY, runs=runs)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "checkpoint" in lines[0] and "damaged" in lines[0]
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (runs / HEALTHY).iterdir()) == before


def test_the_form_refuses_what_the_cli_refuses(runs_dir, tmp_path):
    at = open_page("pages/train.py")
    at.number_input(key="f_lr").set_value(1e9).run()
    assert "at most 10" in shown(at) and at.button(key="start").disabled
    at.number_input(key="f_lr").set_value(0.001).run()
    # a number below its minimum reaches the check (no browser-side minimum keeps the old value)
    at.number_input(key="f_epochs").set_value(-3).run()
    assert "Epochs must be a positive number" in shown(at) and at.button(key="start").disabled
    at.number_input(key="f_epochs").set_value(2).run()
    at.radio(key="f_data").set_value("folder").run()
    at.text_input(key="f_folder").input(str(_fake_pngs(tmp_path / "fake"))).run()
    assert "opens as an image" in shown(at) and at.button(key="start").disabled
    assert not RunStore(runs_dir).list()


# --- no markup from outside ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wanted", ["[click me](https://example.com)", "![x](http://example.com/x.png)"])
def test_a_run_id_from_the_url_is_shown_as_text(runs_dir, wanted):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/train.py")
    at.query_params["run"] = wanted
    at.run()
    warning = next(w.value for w in at.warning if "There is no run" in plain(w.value))
    # every markdown character escaped: no link, no image
    assert "\\[" in warning and "\\(" in warning and "](" not in warning
    assert plain(warning) == f"There is no run '{wanted}'."


# --- only localhost talks to the server ---------------------------------------------------------------------


def _request(port: int, host: str, origin: str | None = None, websocket: bool = False) -> str:
    """The status line the server answers a raw request with (a browser can't forge Host; a socket can)."""
    lines = [f"GET {'/_stcore/stream' if websocket else '/'} HTTP/1.1", f"Host: {host}"]
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            f"Sec-WebSocket-Key: {key}",
        ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return s.recv(256).decode(errors="replace").splitlines()[0]


@pytest.mark.slow
def test_dns_rebinding_requests_are_refused(app_server):
    port = int(app_server["url"].rsplit(":", 1)[1])  # the session's server: raw requests change nothing
    local, evil = f"localhost:{port}", f"rebind.example:{port}"
    assert " 200 " in _request(port, local)
    assert " 200 " in _request(port, f"127.0.0.1:{port}")
    assert " 200 " in _request(port, f"[::1]:{port}")
    assert " 403 " in _request(port, evil)
    assert " 101 " in _request(port, local, f"http://{local}", websocket=True)
    assert " 403 " in _request(port, evil, f"http://{evil}", websocket=True)  # the rebinding page
    assert " 403 " in _request(port, local, "http://rebind.example", websocket=True)  # cross-origin
