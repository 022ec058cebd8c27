"""Changing the learning rate of a paused run: event, checkpoint, schedule, resume after a crash, refusals."""

import json
import threading
from dataclasses import asdict

import pytest
import torch

import core.trainer
from core import jobs
from core.config import make_config
from core.control import Control, set_command, write_command
from core.optim import make_optimizer, make_schedule, set_hyperparameters
from core.runs import RunError, RunStore
from core.trainer import train
from tests.wait import wait_for

QUICK = dict(model="tutorial", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, device="cpu", epochs=2)


@pytest.fixture(autouse=True)
def every_step(monkeypatch):
    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 0)


def train_with_a_change_while_paused(run, data, cfg, values) -> tuple[list, dict]:
    """Train `cfg`; once it has taken a few steps, pause, `set` `values` through the control file, resume."""
    control, events = Control(run.control_path), []

    def on_event(ev):
        events.append(ev)
        if ev["type"] == "step" and ev["global_step"] == 5:
            control.pause()
        elif ev["type"] == "paused":
            run.control_path.write_text(set_command(values) + "\n")  # what `jobs.retune` writes

    def resume_once_applied():  # the user presses Resume after the paused trainer has read the new values
        wait_for(lambda: control.hyperparameters, 30)
        control.resume()

    threading.Thread(target=resume_once_applied, daemon=True).start()
    summary = train(cfg, run, on_event=on_event, control=control, dataset=data)
    return events, summary


@pytest.mark.slow
def test_a_new_lr_applies_from_the_next_step_is_an_event_and_is_in_the_checkpoint(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    events, summary = train_with_a_change_while_paused(run, small_data, make_config(**QUICK), {"lr": 0.002})
    assert summary["status"] == "completed"
    (change,) = [e for e in events if e["type"] == "hyperparameters"]
    assert change["lr"] == 0.002 and change["momentum"] == 0.9
    lrs = {e["global_step"]: e["lr"] for e in events if e["type"] == "step"}
    assert lrs[5] == pytest.approx(0.01) and all(lr == pytest.approx(0.002) for s, lr in lrs.items() if s > 5)
    assert json.loads((run.path / "summary.json").read_text())["hyperparameters"]["lr"] == 0.002
    ck = torch.load(run.checkpoint_path, weights_only=True)
    assert ck["hyperparameters"]["lr"] == 0.002 and ck["optimizer"]["param_groups"][0]["lr"] == 0.002


@pytest.mark.slow
def test_under_a_schedule_the_new_lr_scales_the_rest_of_it(tmp_path, small_data):
    cfg = make_config(**{**QUICK, "schedule": "linear"})
    events, _ = train_with_a_change_while_paused(
        RunStore(tmp_path).create({}), small_data, cfg, {"lr": 0.005}
    )
    # the same run without the change: its lr curve, step by step
    ref = []
    train(cfg, RunStore(tmp_path / "ref").create({}), on_event=ref.append, dataset=small_data)
    want = {e["global_step"]: e["lr"] for e in ref if e["type"] == "step"}
    got = {e["global_step"]: e["lr"] for e in events if e["type"] == "step"}
    assert got[5] == pytest.approx(want[5])
    for s in range(6, max(want)):
        assert got[s] == pytest.approx(want[s] * 0.5), s  # 0.005 / 0.01 of the schedule from then on


@pytest.mark.slow
def test_a_crash_after_the_change_resumes_with_the_new_lr(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    control, seen = Control(run.control_path), []

    def crash_after_the_change(ev):
        seen.append(ev)
        if ev["type"] == "step" and ev["global_step"] == 3:
            control.apply(set_command({"lr": 0.003}))
        if ev["type"] == "step" and ev["global_step"] == 8:
            raise KeyboardInterrupt  # the process dies: no stop, no end-of-epoch checkpoint

    cfg = make_config(**QUICK)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, on_event=crash_after_the_change, control=control, dataset=small_data)
    resumed = []
    assert train(cfg, run, on_event=resumed.append, dataset=small_data)["status"] == "completed"
    start = next(e for e in resumed if e["type"] == "resume")
    assert start["global_step"] == 4  # the checkpoint written when the change was applied
    assert all(e["lr"] == pytest.approx(0.003) for e in resumed if e["type"] == "step")


@pytest.mark.slow
def test_bad_values_are_refused_with_a_reason_and_change_nothing(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    events, summary = train_with_a_change_while_paused(run, small_data, make_config(**QUICK), {"lr": -1.0})
    assert summary["status"] == "completed"
    (refusal,) = [e for e in events if e["type"] == "hyperparameters"]
    assert "learning rate must be positive" in refusal["refused"]
    assert all(e["lr"] == pytest.approx(0.01) for e in events if e["type"] == "step")


def test_the_optimizer_keeps_the_fast_groups_ratio_and_decay_per_step():
    net = core.trainer.get_model_spec("airbench-mini").build(10)
    opt = make_optimizer(net, "nesterov", 0.5, 0.85, 1e-3, norm_bias_lr_scale=64)
    sched = make_schedule(opt, "onecycle", 100)
    now = set_hyperparameters(
        opt,
        sched,
        {"lr": 0.5, "momentum": 0.85, "weight_decay": 1e-3},
        {"lr": 0.25, "weight_decay": 2e-3, "momentum": 0.8},
    )
    slow, fast = opt.param_groups
    assert now == {"lr": 0.25, "momentum": 0.8, "weight_decay": 2e-3}
    assert fast["max_lr"] == pytest.approx(64 * slow["max_lr"]) and slow["max_lr"] == pytest.approx(0.25)
    assert fast["lr"] * fast["weight_decay"] == pytest.approx(slow["lr"] * slow["weight_decay"])
    assert slow["momentum"] == fast["momentum"] == 0.8


def test_jobs_refuse_a_finished_run_and_bad_values(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(asdict(make_config(**QUICK)))
    run.write_summary({**run.summary(), "status": "completed"})
    with pytest.raises(RunError, match="only a running or paused run"):
        jobs.retune(run, {"lr": 0.1})
    run.write_summary({**run.summary(), "status": "paused"})  # owned by this (live) process
    for bad, why in [
        ({"lr": 0}, "positive"),
        ({"lr": float("nan")}, "finite"),
        ({"momentum": 1.2}, "[0, 1)"),
    ]:
        with pytest.raises(RunError, match=why.replace("[", r"\[").replace(")", r"\)")):
            jobs.retune(run, bad)
    jobs.retune(run, {"lr": 0.1})
    assert run.control_path.read_text() == "set lr=0.1\n"


def test_resume_right_after_apply_keeps_the_new_values_and_apply_keeps_the_pause(tmp_path):
    path = tmp_path / "control"
    write_command(path, "pause")
    write_command(path, set_command({"lr": 0.5}))
    assert path.read_text().splitlines() == ["set lr=0.5", "pause"]  # the job stays paused
    write_command(path, "resume")  # pressed before the job read the file
    assert path.read_text().splitlines() == ["set lr=0.5", "resume"]
    control = Control(path)
    control.pause()
    control.poll()
    assert not control.paused and control.hyperparameters == {"lr": 0.5}
