"""The warm starter (core/starter.py, core/forks.py): the app's one-process jobs are forked from a process
that has imported torch already. Real processes and real training on generated data."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import forks, jobs
from core.config import make_config
from core.jobs import ROOT
from core.runs import Run, RunStore
from tests.wait import wait_for

LONG = dict(data="synthetic", model="tutorial", optimizer="sgd", lr=0.01, epochs=50, device="cpu")


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def environ(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def training(run: Run) -> int:
    """Wait for the job's first step; its pid."""
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    return run.summary()["pid"]


def stop(run: Run) -> None:
    jobs.send(run, "stop")
    wait_for(lambda: run.status == "stopped", 30)


@pytest.mark.slow
def test_jobs_fork_from_one_starter_each_with_the_callers_data_folder(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    pids, parents = [], set()
    for name in ("a", "b"):
        monkeypatch.setenv("BLITZLAB_DATA_DIR", str(tmp_path / name))
        run = jobs.start(make_config(**LONG), store)
        pids.append(training(run))
        parents.add(parent(pids[-1]))
        stop(run)
        # the command line's own lines reach the run's log
        assert f"run folder: {run.path}" in run.log_path.read_text()
    # two processes, one parent: a starter, not this test's process and not each other
    assert pids[0] != pids[1] and len(parents) == 1 and parents != {os.getpid()}
    # each job read BLITZLAB_DATA_DIR as its caller had it: the demo set is cached in both folders
    assert all(list((tmp_path / name / "cache").glob("synthetic-*.pt")) for name in ("a", "b"))


@pytest.mark.slow
def test_an_import_time_variable_gets_a_new_starter_and_the_old_ones_job_trains_on(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    first = jobs.start(make_config(**LONG), store)
    # its handle, kept: the next start reaps (and forgets) the jobs that have ended
    first_job = jobs._children[first.id]
    old = parent(training(first))
    # read when torch is imported, so only a starter started with it can give it to a job
    monkeypatch.setenv("OMP_DISPLAY_ENV", "FALSE")
    stop(first)
    second = jobs.start(make_config(**LONG), store)
    new = training(second)
    assert parent(new) != old
    assert b"OMP_DISPLAY_ENV=FALSE" in environ(new)
    stop(second)
    assert first_job.wait(10) == 0 and jobs._children[second.id].wait(10) == 0


@pytest.mark.slow
def test_a_killed_starter_is_replaced_and_its_running_job_is_followed_to_its_end(tmp_path):
    store = RunStore(tmp_path)
    run = jobs.start(make_config(**LONG), store)
    pid = training(run)
    starter = parent(pid)
    os.kill(starter, signal.SIGKILL)
    # the job trains on without its starter, and the app still sees it as its own running job
    steps = len(run.events())
    wait_for(lambda: len(run.events()) > steps)
    assert [r.id for r in jobs.active_runs(store)] == [run.id]
    stop(run)
    wait_for(lambda: jobs._children[run.id].poll() is not None)
    # the next job is forked by a new starter
    after = jobs.start(make_config(**LONG), store)
    assert parent(training(after)) not in (starter, os.getpid())
    stop(after)


@pytest.mark.slow
def test_ctrl_c_stops_a_forked_job_with_a_checkpoint_and_the_starter_takes_the_next(tmp_path):
    store = RunStore(tmp_path)
    run = jobs.start(make_config(**LONG), store)
    pid = training(run)
    starter = parent(pid)
    # what Ctrl-C on `make run` sends to the whole process group
    os.kill(pid, signal.SIGINT)
    os.kill(starter, signal.SIGINT)
    wait_for(lambda: run.status == "stopped", 30)
    assert torch.load(run.checkpoint_path, weights_only=True)["step"] > 0
    assert jobs._children[run.id].wait(10) == 0
    after = jobs.start(make_config(**LONG), store)
    assert parent(training(after)) == starter
    stop(after)


@pytest.mark.slow
def test_a_job_its_starter_never_forked_starts_as_a_fresh_process(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    # a variable read at import: the next job goes to a new starter, which then dies during its imports
    monkeypatch.setenv("OMP_DISPLAY_ENV", "FALSE")
    run = jobs.start(make_config(**LONG), store)
    forks._starter.proc.kill()
    assert parent(training(run)) == os.getpid()
    stop(run)
    assert jobs._children[run.id].wait(10) == 0


@pytest.mark.slow
def test_a_library_printing_in_the_starter_does_not_garble_its_answers(tmp_path, monkeypatch):
    (tmp_path / "sitecustomize.py").write_text('print("a library says hello", flush=True)\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    store = RunStore(tmp_path / "runs")
    run = jobs.start(make_config(**LONG), store)
    assert parent(training(run)) != os.getpid()
    stop(run)
    assert jobs._children[run.id].wait(10) == 0


@pytest.mark.slow
def test_the_starters_imports_leave_a_forked_child_free_to_use_cuda():
    # CUDA refuses a child forked after its parent touched CUDA; the starter must never have
    code = (
        "import os, torch, core.starter\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(3 if torch.cuda._is_in_bad_fork() else 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0
