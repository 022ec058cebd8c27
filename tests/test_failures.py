"""Issue 24: nothing is lost and nothing is English when things go wrong.

A full disk at every write a run makes (a real tmpfs where this machine lets us mount one, an injected
ENOSPC everywhere), garbage in a running job's control file (Hypothesis, a real process), config.json files
that parse but are no run's config in every command, every stored reason in 中文, and an open page that
notices a resume from a terminal."""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import core.files
import core.runs
import core.validate
from core import control as control_module
from core import evaluate, export, jobs
from core import train as train_cli
from core.catalogs import translations
from core.config import make_config
from core.control import MAX_BYTES, Control, write_command
from core.files import DiskFull
from core.messages import MessageError, Phrase, from_json, stored_message, to_json
from core.recorder import REASONS, RESERVE
from core.runs import END_MARK, RunStore
from core.trainer import train
from core.validate import NoRoom, checkpoint_bytes
from tests.appserver import ROOT
from tests.wait import reads_are_seen, wait_for, wait_until_read

QUICK = dict(data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, device="cpu")
ZH = translations("zh")
CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(message) -> str:
    return ZH.message(message)


def _enospc(name: str = "") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)


# --- 1. a full disk ---------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (this process is root on the test VM); skipped where mounting is not permitted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Write a filler file until the disk holding `folder` has no room left."""
    with open(folder / "filler", "ab", buffering=0) as f:
        chunk = bytes(64 * 1024)
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                chunk = chunk[: len(chunk) // 2]
                if not chunk:
                    return


def test_a_disk_that_fills_while_a_run_trains_ends_it_failed_saying_so_and_keeps_what_was_saved(
    small_disk, small_data
):
    store = RunStore(small_disk / "runs")
    other = store.create({"model": "tutorial"}, name="other")
    (other.path / "checkpoint.pt").write_bytes(b"an earlier run's file")
    cfg = make_config(**{**QUICK, "epochs": 3})
    run = store.create(asdict(cfg))
    saved = {}

    def fill_after_first_checkpoint(ev):
        if ev["type"] == "checkpoint" and not saved:
            saved["checkpoint"] = run.checkpoint_path.read_bytes()
            _fill(small_disk)

    summary = train(cfg, run, on_event=fill_after_first_checkpoint, dataset=small_data)
    assert summary["status"] == "failed"
    # our words: the disk, what is free, what to do; in 中文 too
    assert (
        "is full" in summary["reason"]
        and "free" in summary["reason"]
        and "BLITZLAB_RUNS_DIR" in summary["reason"]
    )
    assert "enforce fail" not in summary["reason"] and "Errno" not in summary["reason"]
    on_disk = json.loads((run.path / "summary.json").read_text())
    assert on_disk["status"] == "failed" and on_disk["reason"] == summary["reason"]
    assert "磁盘已满" in zh(stored_message(on_disk, "reason"))
    # the page's reading of it (not "ended without saying why"), and the checkpoint of epoch 1 intact
    assert run.status == "failed"
    assert run.checkpoint_path.read_bytes() == saved["checkpoint"]
    assert torch.load(run.checkpoint_path, weights_only=True)["epoch"] == 1
    assert (other.path / "checkpoint.pt").read_bytes() == b"an earlier run's file"
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_start_refuses_on_a_disk_without_room_for_one_checkpoint_before_any_folder(small_disk):
    store = RunStore(small_disk / "runs")
    cfg = make_config(**{**QUICK, "model": "resnet9", "epochs": 1})
    assert checkpoint_bytes(cfg) > 6_000_000  # more than the whole disk
    with pytest.raises(NoRoom) as refused:
        jobs.start(cfg, store)
    assert "free" in str(refused.value) and "resnet9" in str(refused.value) and "磁盘" in zh(refused.value)
    assert not any(p.name != ".jobs.lock" for p in store.root.iterdir())
    # the command line: one line, status 2, nothing created
    done = subprocess.run(
        [sys.executable, "-m", "core.train", "--data", "synthetic", "--model", "resnet9", "--epochs", "1",
         "--runs-dir", str(store.root)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "free" in last and "Traceback" not in done.stderr
    assert not any(p.name != ".jobs.lock" for p in store.root.iterdir())
    # a model that fits starts
    assert core.validate.space_problem(make_config(**QUICK), store.root) is None


def test_start_on_a_full_disk_says_so_without_a_mount(tmp_path, monkeypatch):
    monkeypatch.setattr(core.validate, "free_bytes", lambda folder: 999)
    store = RunStore(tmp_path / "runs")
    with pytest.raises(NoRoom, match="has 999 bytes free"):
        jobs.start(make_config(**{**QUICK, "epochs": 1}), store)
    assert not store.root.exists() or not any(p.name != ".jobs.lock" for p in store.root.iterdir())


def test_start_on_the_train_page_on_a_full_disk_says_so_in_the_pages_language(runs_dir, monkeypatch):
    from tests.apptest import open_page
    from tests.test_live_view import shown

    at = open_page("pages/train.py")
    at.query_params["lang"] = "zh"
    monkeypatch.setattr(core.validate, "free_bytes", lambda folder: 999)
    at.run()
    at.button(key="start").click().run()
    assert not at.exception
    text = " | ".join(e.value for e in at.error)
    assert "磁盘只剩 999 bytes" in shown(at) and "Errno" not in text, text
    assert not RunStore(runs_dir).list()
    # room for the check, none when the folder is written (the disk filled meanwhile): our words too
    monkeypatch.setattr(core.validate, "free_bytes", core.files.free_bytes)  # (undo() would drop runs_dir)
    real = core.runs.tempfile.mkdtemp

    def full(*args, **kwargs):
        raise _enospc()

    monkeypatch.setattr(core.runs.tempfile, "mkdtemp", full)
    at.button(key="start").click().run()
    assert "磁盘已满" in shown(at) and "Errno" not in shown(at)
    monkeypatch.setattr(core.runs.tempfile, "mkdtemp", real)
    assert not RunStore(runs_dir).list()


SITES = ("checkpoint.pt", "model.pth", "summary.json", "metrics.jsonl", "samples.pt")


@pytest.mark.parametrize("site", SITES)
def test_enospc_at_each_write_site_is_a_disk_full_failure_in_our_words(
    tmp_path, small_data, monkeypatch, site
):
    store = RunStore(tmp_path)
    cfg = make_config(**{**QUICK, "epochs": 2})
    run = store.create(asdict(cfg))
    armed = {"on": False, "hit": 0}
    mkstemp, real_open = core.files.tempfile.mkstemp, builtins.open

    def full_mkstemp(*args, prefix="", **kwargs):
        if armed["on"] and prefix == f".{site}." and not armed["hit"]:
            armed["hit"] += 1  # once: as when the reserve is freed for the run's last word
            raise _enospc(site)
        return mkstemp(*args, prefix=prefix, **kwargs)

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            armed["hit"] += 1
            raise _enospc(site)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def full_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if armed["on"] and Path(file).name == site and "a" in mode and not armed["hit"]:
            return FullFile(f)
        return f

    monkeypatch.setattr(core.files.tempfile, "mkstemp", full_mkstemp)
    monkeypatch.setattr(core.runs, "open", full_open, raising=False)

    def arm(ev):
        if ev["type"] == "step" and not armed["on"]:  # samples.pt is written before: armed from the start
            armed["on"] = True
            run.close()  # metrics.jsonl is opened anew for the next event

    if site == "samples.pt":
        armed["on"] = True
    summary = train(cfg, run, on_event=arm, dataset=small_data)
    assert armed["hit"], "the write site was never reached"
    assert summary["status"] == "failed", summary
    reason = stored_message(json.loads((run.path / "summary.json").read_text()), "reason")
    assert isinstance(reason, Phrase) and reason.template == DiskFull(tmp_path / site).template
    assert site in str(reason) and "free" in str(reason)
    assert "磁盘已满" in zh(reason) and site in zh(reason)


@pytest.mark.slow
def test_a_job_that_cannot_write_its_summary_leaves_its_reason_in_its_log_and_the_app_reads_it(tmp_path):
    store = RunStore(tmp_path)
    script = f"""
import errno, os, sys
import core.runs
real = core.runs.Run.write_summary
def full(self, summary):
    if summary.get("status") != "running":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real(self, summary)
core.runs.Run.write_summary = full
from core.train import main
sys.exit(main(["--data", "synthetic", "--epochs", "0.05", "--batch-size", "64", "--device", "cpu",
               "--quiet", "--runs-dir", {str(tmp_path)!r}]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    (run,) = store.list()
    assert json.loads((run.path / "summary.json").read_text())["status"] == "running"  # never rewritten
    assert END_MARK in run.log_path.read_text(), done.stderr
    # the process is gone: without the log's line this would read "interrupted", ended without saying why
    summary = run.summary()
    assert summary["status"] == "completed", summary


def test_a_reserve_is_kept_while_training_and_freed_at_the_end(tmp_path, small_data):
    cfg = make_config(**{**QUICK, "epochs": 0.2})
    run = RunStore(tmp_path).create(asdict(cfg))
    seen = []
    train(cfg, run, on_event=lambda ev: seen.append((run.path / RESERVE).exists()), dataset=small_data)
    assert seen and all(seen[:-1]) and not (run.path / RESERVE).exists()


def test_the_runs_table_has_each_runs_size_to_sort_by(trained_run):
    run = trained_run("sized")
    row = core.runs.run_row(run)
    assert row["size MB"] == round(run.size() / 1e6, 1) and run.size() > 100_000


# --- 2. the control file accepts anything ------------------------------------------------------------------


GARBAGE = {
    "not UTF-8": b"\xff\xfe\x80stop\n",
    "binary": b"stop\x00\n",
    "huge": b"stop\n" * (MAX_BYTES // 5 + 1),
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_in_the_control_file_is_refused_once_never_fatal(tmp_path, kind, monkeypatch):
    monkeypatch.setattr(control_module, "POLL_SECONDS", 0.0)
    path = tmp_path / "control"
    path.write_bytes(GARBAGE[kind])
    refused = []
    c = Control(path)
    c.on_refused = refused.append
    for _ in range(3):
        c.poll()
    assert len(refused) == 1 and isinstance(refused[0], MessageError) and not c.stopping
    assert CJK.search(zh(refused[0]))
    write_command(path, "pause")  # the app's buttons still work over it
    c.poll()
    assert c.paused and path.read_text() == "pause\n"


def test_a_folder_in_place_of_the_control_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(control_module, "POLL_SECONDS", 0.0)
    (tmp_path / "control").mkdir()
    refused = []
    c = Control(tmp_path / "control")
    c.on_refused = refused.append
    c.poll()
    assert len(refused) == 1


@pytest.mark.slow
def test_random_bytes_in_a_running_jobs_control_file_never_stop_it(tmp_path):
    store = RunStore(tmp_path)
    run = jobs.start(make_config(**{**QUICK, "batch_size": 4, "epochs": 6}), store)
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    written = []
    # each example waits until the job has read the file (its access time), else for one poll; then a
    # margin for the job to act on what it read, so that each check is about its own example
    seen = reads_are_seen(tmp_path)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.binary(max_size=6000))
    @example(b"\xff" * 10)
    @example(bytes(MAX_BYTES + 10))
    def garbage(data):
        lines = {line.strip() for line in data.decode("utf-8", "replace").splitlines()}
        assume(not lines & {"pause", "stop"} and not any(line.startswith("set") for line in lines))
        run.control_path.write_bytes(data)
        written.append(data)
        if seen:
            wait_until_read(run.control_path, timeout=30, unless=lambda: run.status != "running")
        else:
            time.sleep(control_module.POLL_SECONDS)
        time.sleep(0.15)
        assert run.status in ("running", "completed"), run.summary()

    garbage()
    run.control_path.unlink(missing_ok=True)
    wait_for(lambda: run.status != "running", 300)
    summary = run.summary()
    assert summary["status"] == "completed", summary
    refusals = [e for e in run.events() if e["type"] == "control"]
    assert refusals and all(CJK.search(zh(stored_message(e, "refused"))) for e in refusals)


# --- 3. config.json that parses but is no run's config ----------------------------------------------------

NOT_A_CONFIG = {
    "an empty object": {},
    "an unknown key": {**asdict(make_config(**QUICK, epochs=1)), "bogus": 1},
    "settings missing": {"model": "tutorial"},
    "wrong types": {**asdict(make_config(**QUICK, epochs=1)), "model": [], "epochs": "many"},
}


@pytest.mark.parametrize("kind", list(NOT_A_CONFIG))
def test_every_command_calls_a_run_with_a_wrong_config_damaged_in_one_line(
    trained_run, runs_dir, kind, capsys
):
    run = trained_run("wrongcfg")
    (run.path / "config.json").write_text(json.dumps(NOT_A_CONFIG[kind]))
    run.write_summary({**run.summary(), "status": "stopped"})
    assert run.config_problem() is not None and core.runs.run_row(run)["status"] == "damaged"
    outputs = []
    assert evaluate.main([run.id, "--runs-dir", str(runs_dir)]) == 1
    outputs.append(capsys.readouterr().err)
    for command in (export.main, train_cli.main):
        args = [run.id] if command is export.main else ["--resume", run.id]
        with pytest.raises(SystemExit) as ended:
            command([*args, "--runs-dir", str(runs_dir)])
        assert ended.value.code == 2
        outputs.append(capsys.readouterr().err)
    for text in outputs:
        lines = [line for line in text.strip().splitlines() if not line.startswith("usage:")]
        assert len(lines) == 1 and "damaged" in lines[0], text
        assert "__init__" not in text and "Traceback" not in text and "KeyError" not in text
    with pytest.raises(core.runs.RunError, match="damaged"):
        jobs.resume(run, RunStore(runs_dir))


# --- 4. messages stored as templates, shown in the page's language ------------------------------------------


def test_every_reason_the_trainer_writes_itself_has_its_chinese():
    for template in REASONS:
        found = ZH.gettext(template)
        assert found != template and CJK.search(found), template
        assert set(re.findall(r"{(\w+)", found)) == set(re.findall(r"{(\w+)", template)), template


def _reasons(tmp_path, small_data) -> dict[str, dict]:
    """The stored reasons of real runs: each way the trainer can end a run failed or stopped."""
    found = {}
    store = RunStore(tmp_path)

    def ended(name, cfg, **kwargs):
        run = store.create(asdict(cfg), name=name)
        train(cfg, run, dataset=small_data, **kwargs)
        found[name] = json.loads((run.path / "summary.json").read_text())
        return run

    ended("diverged", make_config(**{**QUICK, "optimizer": "sgd", "lr": 1e12, "epochs": 1}))
    stopper = Control()
    stopper.stop()
    ended("stopped", make_config(**{**QUICK, "epochs": 1}), control=stopper)
    ended("too large a batch", make_config(**{**QUICK, "batch_size": 60_000, "epochs": 1}))
    # a `set` the job refuses, in its event
    c = Control()
    c.apply("set lr=nan")
    run = ended("refused", make_config(**{**QUICK, "epochs": 0.1}), control=c)
    (event,) = [e for e in run.events() if e["type"] == "hyperparameters"]
    found["refused change"] = {"reason": event["refused"], "reason_message": event["refused_message"]}
    assert found.pop("refused")["status"] == "completed"  # a refused change does not end the run
    # a process that died before it claimed its run (the app's reaper)
    reaped = store.create({"not_a_field": 1})
    jobs._spawn(reaped, store)
    wait_for(lambda: (jobs.reap(store), reaped.status == "failed")[1], 120)
    found["exited"] = reaped.summary()
    found["disk full"] = {"reason_message": to_json(DiskFull(tmp_path / "checkpoint.pt"))}
    found["rank"] = {"reason_message": to_json(Phrase("process {rank}: {reason}", rank=1, reason=Phrase(
        "stopped by the user; resume continues from the saved checkpoint")))}  # fmt: skip
    return found


@pytest.mark.slow
def test_every_stored_reason_shows_in_chinese_and_old_english_reasons_still_show(tmp_path, small_data):
    for name, record in _reasons(tmp_path, small_data).items():
        message = stored_message(record, "reason")
        assert isinstance(message, Phrase), (name, record)
        shown = zh(message)
        assert CJK.search(shown), (name, shown)
        if "{" in message.template:  # the values are filled in, not the English sentence
            english = re.split(r"[{]", message.template)[0].strip()
            assert not english or english not in shown, (name, shown)
        assert str(message) and str(message) != shown
        if name == "refused change":
            assert "。" in shown and "The learning rate" not in shown  # two messages, each translated
    # a run written before reasons were stored as templates: its English text as it was
    assert stored_message({"reason": "the loss became nan"}, "reason") == "the loss became nan"
    hand_edited = {"reason": "x", "reason_message": {"id": "{missing}", "values": {"other": 1}}}
    assert stored_message(hand_edited, "reason") == "x"
    assert from_json({"id": 5}) is None and from_json({"id": "a {b}", "values": {"b": [1]}}) is None


def test_a_failed_runs_reason_reads_in_chinese_on_the_page_and_an_old_one_in_english(trained_run):
    from tests.test_live_view import live_page, shown

    new, old = trained_run("newreason"), trained_run("oldreason")
    reason = core.recorder.reason_fields(Phrase(core.recorder.OUT_OF_MEMORY, batch=512))
    new.write_summary({**new.summary(), "status": "failed", **reason})
    old.write_summary({**old.summary(), "status": "failed", "reason": "an English reason of an older app"})
    at = live_page(new.id)
    at.query_params["lang"] = "zh"
    at.run()
    assert "训练失败：GPU（显卡）内存不足；请减小批次大小（现在是 512）。" in shown(at)
    at.query_params["run"] = old.id
    at.run()
    assert "训练失败：an English reason of an older app" in shown(at)


# --- 5. the open page notices a status change it did not make -----------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_the_open_page_notices_a_failed_run_resumed_from_a_terminal(page, app_server, small_data):
    from playwright.sync_api import expect

    store = RunStore(app_server["runs_dir"])
    cfg = make_config(**{**QUICK, "epochs": 1})
    run = store.create(asdict(cfg), name="resumed-outside")
    train(cfg, run, dataset=small_data)
    # it failed (as when the loss diverged), and it has 50 epochs to go once resumed
    (run.path / "config.json").write_text(json.dumps({**asdict(cfg), "batch_size": 4, "epochs": 50}))
    reason = core.recorder.reason_fields(Phrase(core.recorder.OUT_OF_MEMORY, batch=64))
    run.write_summary({**run.summary(), "status": "failed", **reason})
    page.goto(f"{app_server['url']}/train?run={run.id}")
    header = page.locator('[data-testid="stMarkdownContainer"] h4').first
    expect(header).to_contain_text("failed", timeout=60_000)
    expect(page.get_by_role("button", name="Resume run")).to_have_count(1, timeout=15_000)
    # the page has settled: only its watcher's timer runs
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=30_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.train", "--resume", run.id, "--runs-dir", str(store.root), "--quiet"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: run.summary().get("pid") == proc.pid and run.status == "running", 60)
        resumed = time.monotonic()
        expect(header).to_contain_text("running", timeout=3_000)
        print(f"\nresumed from a terminal → the page shows running: {time.monotonic() - resumed:.2f} s")
        expect(page.get_by_role("button", name="Resume run")).to_have_count(0, timeout=5_000)
        expect(page.get_by_role("button", name="⏹ Stop")).to_have_count(1)
        # and the other way: stopped from the terminal's side, the page offers Resume again
        wait_for(lambda: any(e["type"] == "step" for e in run.events()[-20:]), 60)  # it trains again
        jobs.send(run, "stop")
        wait_for(lambda: run.status == "stopped", 30)
        expect(header).to_contain_text("stopped", timeout=3_000)
        expect(page.get_by_role("button", name="Resume run")).to_have_count(1, timeout=5_000)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)
