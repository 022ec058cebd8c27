"""DDP through torchrun: two gloo processes on the CPU against one process with the same global batch."""

import json
import subprocess
import sys

import pytest

import core.train
import core.trainer
from core import jobs
from core.config import make_config
from core.devices import DDP_DEVICE
from core.evaluation import evaluate_run
from core.runs import RunStore
from core.trainer import train
from tests.appserver import ROOT
from tests.wait import wait_for

RECIPE = [
    "--data",
    "synthetic",
    "--model",
    "tutorial",
    "--optimizer",
    "sgd",
    "--lr",
    "0.02",
    "--momentum",
    "0.9",
    "--batch-size",
    "64",
    "--epochs",
    "2",
]
TOLERANCE = (
    0.02  # relative, per logged loss: identical maths; float sums in another order drift ~1 % by the end
)


def torchrun(*args: str, processes: int = 2, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            "-m",
            "core.train",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def windowed(per_step: dict[int, float], events: list[dict], spe: int, size: int, last: int) -> list[tuple]:
    """(DDP's logged loss, the single process's per-image mean over the same steps), per DDP step event."""
    pairs, previous = [], -1
    for e in events:
        window = range(max(previous + 1, e["epoch"] * spe), e["global_step"] + 1)
        sizes = [last if (g + 1) % spe == 0 else size for g in window]
        pairs.append((e["loss"], sum(per_step[g] * n for g, n in zip(window, sizes)) / sum(sizes)))
        previous = e["global_step"]
    return pairs


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_and_only_rank_0_writes(tmp_path, monkeypatch):
    result = torchrun(*RECIPE, "--device", "cpu", "--runs-dir", str(tmp_path / "ddp"), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = RunStore(tmp_path / "ddp").list()  # one run folder: rank 1 created none
    assert {p.name for p in run.path.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "checkpoint.pt",
        "model.pth",
        "summary.json",
        "samples.pt",
    }
    summary = run.summary()
    assert summary["status"] == "completed" and summary["processes"] == 2 and summary["device"] == DDP_DEVICE
    lines = run.metrics_path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line whole: one writer
    assert [e["type"] for e in events].count("start") == 1 and events[-1]["type"] == "end"
    steps = [e for e in events if e["type"] == "step"]
    assert [e["global_step"] for e in steps] == sorted({e["global_step"] for e in steps})  # no step twice
    spe = events[0]["steps_per_epoch"]
    assert spe == 79  # ceil(5000 / 64): the same steps as one process with batch 64

    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 0)  # the reference logs every step
    cfg = make_config(
        data="synthetic",
        model="tutorial",
        optimizer="sgd",
        lr=0.02,
        momentum=0.9,
        batch_size=64,
        epochs=2,
        device="cpu",
    )
    reference = []
    single = train(cfg, RunStore(tmp_path / "one").create({}), on_event=reference.append)
    per_step = {e["global_step"]: e["loss"] for e in reference if e["type"] == "step"}
    for ddp_loss, one_loss in windowed(per_step, steps, spe, 64, 5000 - 78 * 64):
        assert ddp_loss == pytest.approx(one_loss, rel=TOLERANCE)
    ddp_epochs = [e for e in events if e["type"] == "epoch"]
    one_epochs = [e for e in reference if e["type"] == "epoch"]
    for a, b in zip(ddp_epochs, one_epochs, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=TOLERANCE)
        assert (
            abs(a["test_accuracy"] - b["test_accuracy"]) <= 0.03
        )  # early, low accuracy: a few images either way
    assert summary["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=0.03)
    report, _ = evaluate_run(
        run
    )  # the report gathered from both ranks' test shards = one process scoring all
    assert summary["test_accuracy"] == pytest.approx(report.accuracy, abs=1e-6)


@pytest.mark.slow
def test_more_processes_than_gpus_is_a_message(tmp_path):
    result = torchrun(*RECIPE, "--device", "cuda", "--runs-dir", str(tmp_path), "--quiet", timeout=120)
    assert result.returncode != 0 and "GPU(s)" in result.stderr and "--nproc_per_node" in result.stderr
    assert not (tmp_path / "runs").exists() and not any(tmp_path.iterdir())


def test_ddp_without_torchrun_says_how_to_start_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        core.train.main([*RECIPE, "--device", DDP_DEVICE, "--runs-dir", str(tmp_path)])
    assert e.value.code == 2 and "torchrun --nproc_per_node" in capsys.readouterr().err


@pytest.mark.slow
def test_the_app_starts_a_ddp_job_through_torchrun(tmp_path):
    """What the training page does when the user picks "all N GPUs": 2 gloo processes stand in for GPUs."""
    store = RunStore(tmp_path)
    cfg = make_config(
        data="synthetic",
        model="tutorial",
        optimizer="adam",
        lr=0.003,
        batch_size=64,
        epochs=1,
        device=DDP_DEVICE,
    )
    run = jobs.start(cfg, store, processes=2)
    assert jobs.train_command(run, store, 2)[1:5] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
    ]
    assert jobs.busy_run(store, DDP_DEVICE).id == run.id  # a second DDP job must wait
    wait_for(lambda: run.status == "completed", timeout=180)
    assert run.summary()["processes"] == 2 and run.summary()["test_accuracy"] > 0.3
