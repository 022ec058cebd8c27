"""Background training jobs: real `python -m core.train` processes on generated data."""

import os
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from core import jobs
from core.config import make_config
from core.models import Net
from core.runs import RunStore
from tests.wait import wait_for

LONG = dict(
    data="synthetic", model="tutorial", optimizer="adam", lr=1e-3, batch_size=4, epochs=50, device="cpu"
)


@pytest.mark.slow
def test_a_job_trains_in_its_own_process_and_completes(tmp_path):
    store = RunStore(tmp_path)
    run = jobs.start(make_config(**{**LONG, "batch_size": 64, "epochs": 1}), store)
    # the environment a terminal run would have: no OpenMP waiting policy added (issue 25: PASSIVE, slower).
    # A forked job's /proc environ is its starter's, the one OpenMP read when the starter imported torch.
    path = Path(f"/proc/{jobs._children[run.id].pid}/environ")
    wait_for(lambda: len(path.read_bytes()) > 1)  # empty while the new process is still being set up
    environ = path.read_bytes().split(b"\0")
    assert b"PATH=" + os.environ["PATH"].encode() in environ
    waiting = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    assert {v for v in environ if v.startswith(tuple(f"{k}=".encode() for k in waiting))} == {
        f"{k}={os.environ[k]}".encode() for k in waiting if k in os.environ
    }
    wait_for(lambda: run.status == "completed")
    summary = run.summary()
    assert summary["pid"] != os.getpid() and summary["epochs_completed"] == 1
    assert any(e["type"] == "step" for e in run.events())
    assert run.config()["device"] == "cpu"  # resolved, not "auto"


@pytest.mark.slow
def test_one_job_per_device_and_stop_leaves_a_usable_checkpoint(tmp_path):
    store = RunStore(tmp_path)
    first = jobs.start(make_config(**LONG), store)
    wait_for(lambda: any(e["type"] == "step" for e in first.events()))
    with pytest.raises(jobs.DeviceBusy, match=first.id):
        jobs.start(make_config(**LONG), store)
    assert [r.id for r in jobs.active_runs(store)] == [first.id]
    jobs.send(first, "pause")
    wait_for(lambda: first.status == "paused", 10)
    jobs.send(first, "resume")
    wait_for(lambda: first.status == "running", 10)
    asked = time.monotonic()
    jobs.send(first, "stop")
    wait_for(lambda: first.status == "stopped", 10)
    assert time.monotonic() - asked < 3
    Net().load_state_dict(torch.load(first.model_path, weights_only=True))
    step = torch.load(first.checkpoint_path, weights_only=True)["step"]
    jobs.resume(first, store)
    # the resumed job trains on: a step past the checkpoint
    # (a stop sent before its first step would not move it)
    wait_for(lambda: any(e["type"] == "step" and e["step"] > step for e in first.events()[-50:]), 30)
    assert first.status == "running"
    jobs.send(first, "stop")
    wait_for(lambda: first.status == "stopped", 10)
    assert torch.load(first.checkpoint_path, weights_only=True)["step"] > step


@pytest.mark.slow
def test_a_process_that_dies_before_training_marks_the_run_failed_with_its_log(tmp_path):
    store = RunStore(tmp_path)
    # a run whose config the trainer cannot read: the child exits before claiming it
    broken = store.create({"not_a_field": 1})
    jobs._spawn(broken, store)
    wait_for(lambda: not jobs.active_runs(store) and broken.status == "failed")
    assert "exited with code" in broken.summary()["reason"]


def test_an_app_job_trains_on_every_core_as_the_same_command_in_a_terminal_does(tmp_path):
    # leaving a core to the page made the tutorial's batch-4 job 10-11 % slower unwatched than every core
    # and no faster watched (docs/BENCHMARKS.md, issue 25): the command is the terminal's
    store = RunStore(tmp_path)
    for overrides in ({}, {"batch_size": 64}, {"amp": "bf16"}):
        command = jobs.train_command(store.create(asdict(make_config(**{**LONG, **overrides}))), store)
        assert "--threads" not in command
        assert command[1:4] == ["-m", "core.train", "--runs-dir"]


def test_commands_are_checked():
    with pytest.raises(ValueError, match="pause, resume, stop"):
        jobs.send(None, "explode")
