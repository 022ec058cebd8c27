"""Chapter 4's challenge board: each challenge judged from a finished run's summary (official CIFAR-10
runs first, the others as practice), the machine named, the recipe one click away; a demo run shows."""

from __future__ import annotations

import json
from dataclasses import asdict

from core.challenges import CHALLENGES, board
from core.config import make_config
from core.runs import RunStore
from tests.apptest import open_page

BY_ID = {c.id: c for c in CHALLENGES}


def _run(
    store: RunStore,
    name: str,
    data: str,
    accuracy: float,
    seconds: float,
    parameters: int,
    status="completed",
):
    run = store.create(asdict(make_config("fast-cpu", data=data)), name=name)
    summary = run.summary()
    summary.update(status=status, test_accuracy=accuracy, train_seconds=seconds, parameters=parameters,
                   machine="Test CPU · 2 threads", pid=0)  # fmt: skip
    (run.path / "summary.json").write_text(json.dumps(summary))
    return run


def test_each_challenge_ranks_the_runs_that_take_part(tmp_path):
    store = RunStore(tmp_path)
    _run(store, "slow", "cifar10", 0.55, 90.0, 62_006)
    _run(store, "fast", "cifar10", 0.56, 20.0, 500_000)
    _run(store, "small", "cifar10", 0.61, 50.0, 90_000)
    _run(store, "demo", "synthetic", 0.95, 10.0, 62_006)
    _run(store, "unfinished", "cifar10", 0.70, 5.0, 1_000, status="stopped")
    runs = store.list()
    name = lambda e: e.run.split("-")[2]  # noqa: E731  (run ids: <date>-<time>-<name>-<hex>)
    fastest = board(runs, BY_ID["fastest-54"])
    assert [name(e) for e in fastest] == ["fast", "small", "slow", "demo"]  # official first, least time first
    assert [e.official for e in fastest] == [True, True, True, False]
    assert [name(e) for e in board(runs, BY_ID["small-60"])] == ["small", "demo"]
    assert [name(e) for e in board(runs, BY_ID["best-in-60s"])] == ["small", "fast", "demo"]
    assert fastest[0].machine == "Test CPU · 2 threads"
    assert fastest[0].command.startswith("python -m core.train --data cifar10 --preset fast-cpu")


def test_a_run_on_the_demo_data_shows_on_the_board(runs_dir, trained_run):
    run = trained_run("board")
    assert run.summary()["machine"]  # the trainer names the machine
    at = open_page("pages/practice.py")
    assert "Challenge board" in [h.value for h in at.header]
    tables = [d.value for d in at.dataframe]
    # its training took seconds: at least the 60-second challenge lists it, as practice (not CIFAR-10)
    listed = [t for t in tables if run.id in list(t["run"])]
    assert listed and all(list(t["counts"]) == ["practice"] for t in listed)
