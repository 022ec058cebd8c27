import json
import re
import time
from datetime import datetime

import pytest

from core.runs import RunError, RunStore, run_row


def step_event(step: int, loss: float) -> dict:
    return {
        "type": "step",
        "epoch": 0,
        "step": step,
        "global_step": step,
        "loss": loss,
        "lr": 0.1,
        "time": 1.0,
    }


def test_create_open_list(tmp_path):
    store = RunStore(tmp_path)
    before = time.time()
    a = store.create({"model": "tutorial", "epochs": 1}, name="my first/run")
    # stamp-label-hex: sortable by creation time, readable, and unique within the same second
    match = re.fullmatch(r"(\d{8}-\d{6})-my-first-run-[0-9a-f]{4}", a.id)
    assert match, a.id
    stamp = datetime.strptime(match[1], "%Y%m%d-%H%M%S").timestamp()
    assert before - 1 <= stamp <= time.time()
    assert store.open(a.id).config() == {"model": "tutorial", "epochs": 1}
    assert a.summary()["status"] == "running"  # owned by this live process
    assert [r.id for r in store.list()] == [a.id]
    assert run_row(a)["status"] == "running" and run_row(a)["model"] == "tutorial"


def test_two_runs_with_the_same_name_get_their_own_folders(tmp_path):
    store = RunStore(tmp_path)
    a, b = store.create({"model": "tutorial"}), store.create({"model": "tutorial"})
    assert a.id != b.id and a.id.split("-")[2] == b.id.split("-")[2] == "tutorial"
    assert sorted(r.id for r in store.list()) == sorted([a.id, b.id])


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "x" * 200, "..", "/abs"])
def test_run_ids_from_outside_cannot_escape(tmp_path, bad):
    with pytest.raises(RunError):
        RunStore(tmp_path / "runs").open(bad)


def test_unknown_run_is_named(tmp_path):
    with pytest.raises(RunError, match="No run 'nope'"):
        RunStore(tmp_path).open("nope")


def test_a_run_whose_process_died_is_interrupted(tmp_path):
    run = RunStore(tmp_path).create({"model": "tutorial"})
    s = json.loads((run.path / "summary.json").read_text())
    run.write_summary({**s, "pid": 2**22 + 12345})  # no such process
    assert run.status == "interrupted"


def test_events_skip_a_torn_line_and_rewind_on_resume(tmp_path):
    run = RunStore(tmp_path).create({})
    for step in range(5):
        run.append(step_event(step, 1.0))
    run.append({"type": "resume", "epoch": 0, "step": 3, "global_step": 3})
    run.append(step_event(3, 0.5))
    run.close()
    with open(run.metrics_path, "a") as f:
        f.write('{"type": "step", "glo')  # a crash mid-write
    steps = [(e["global_step"], e["loss"]) for e in run.events() if e["type"] == "step"]
    assert steps == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.5)]


def test_delete_refuses_a_running_run_and_removes_a_finished_one(tmp_path):
    store = RunStore(tmp_path)
    run = store.create({})
    with pytest.raises(RunError, match="still running"):
        store.delete(run.id)
    run.write_summary({"status": "completed"})
    store.delete(run.id)
    assert store.list() == []


def test_summary_writes_leave_no_temp_files(tmp_path):
    run = RunStore(tmp_path).create({})
    for i in range(20):
        run.write_summary({"status": "running", "i": i})
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "summary.json"]
