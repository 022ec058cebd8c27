import json
import threading
import time

import pytest
import torch

import core.trainer
from core.config import PRESETS, TrainConfig, make_config
from core.control import Control
from core.models import Net, build_model
from core.runs import RunStore
from core.train import main
from core.trainer import train

QUICK = dict(model="tutorial", optimizer="adam", lr=3e-3, batch_size=32, device="cpu")


def quick(**overrides) -> TrainConfig:
    """A small, fast-learning config on the CPU; overrides win."""
    return make_config(**{**QUICK, **overrides})


@pytest.fixture
def every_step(monkeypatch):
    """A step event for every step (by default they come at most every LOG_SECONDS), for exact-step checks."""
    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 0)


def test_presets_and_overrides():
    cfg = make_config("tutorial")
    assert (cfg.model, cfg.batch_size, cfg.optimizer, cfg.lr, cfg.momentum, cfg.epochs) == (
        "tutorial",
        4,
        "sgd",
        0.001,
        0.9,
        2,
    )
    assert make_config("tutorial", epochs=5, lr=None).epochs == 5  # None = "not given"
    assert {"tutorial", "fast-cpu", "fast-gpu"} <= set(PRESETS)
    with pytest.raises(ValueError, match="Unknown preset"):
        make_config("turbo")


def test_problems_are_sentences():
    cfg = TrainConfig(lr=0, batch_size=0, momentum=1.5, optimizer="rmsprop", label_smoothing=1.0)
    text = "; ".join(cfg.problems())
    for part in (
        "Learning rate must be a positive",
        "Batch size",
        "Momentum",
        "Optimizer",
        "Label smoothing",
    ):
        assert part in text
    assert TrainConfig().problems() == []


def test_training_learns_and_writes_a_complete_run_folder(tmp_path, small_data, every_step):
    run = RunStore(tmp_path).create({})
    events = []
    summary = train(quick(epochs=5), run, on_event=events.append, dataset=small_data)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 5
    assert summary["test_accuracy"] > 0.5  # chance is 0.1
    assert set(summary["per_class_accuracy"]) == set(small_data.classes)
    assert summary["train_seconds"] > 0 and summary["device"] == "cpu"
    assert {p.name for p in run.path.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "checkpoint.pt",
        "model.pth",
        "summary.json",
    }
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 5
    assert kinds.count("step") == 5 * 32  # ceil(1000 / 32) steps per epoch, last partial batch kept
    assert [json.loads(line)["type"] for line in run.metrics_path.read_text().splitlines()] == kinds
    epochs = [e for e in events if e["type"] == "epoch"]
    assert epochs[-1]["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    assert len(epochs[-1]["samples"]["predicted"]) == 32
    # the seed's own loading code works on model.pth
    net = Net()
    net.load_state_dict(torch.load(run.model_path, weights_only=True))


def test_stop_leaves_a_checkpoint_and_resume_finishes(tmp_path, small_data, every_step):
    run = RunStore(tmp_path).create({})
    control = Control()
    stop_at_step_10 = lambda e: control.stop() if e["type"] == "step" and e["global_step"] == 10 else None
    s = train(quick(epochs=2), run, on_event=stop_at_step_10, control=control, dataset=small_data)
    assert s["status"] == "stopped" and run.checkpoint_path.exists()
    assert torch.load(run.checkpoint_path, weights_only=True)["step"] == 11
    s = train(quick(epochs=2), run, dataset=small_data)
    assert s["status"] == "completed" and s["epochs_completed"] == 2
    steps = [e["global_step"] for e in run.events() if e["type"] == "step"]
    assert steps == list(range(64))  # each step once, no gap, no repeat


def test_pause_blocks_until_resume(tmp_path, small_data, every_step):
    run = RunStore(tmp_path).create({})
    control = Control()
    events = []

    def on_event(e):
        events.append(e)
        if e["type"] == "step" and e["global_step"] == 3:
            control.pause()
            threading.Timer(0.4, control.resume).start()

    t0 = time.monotonic()
    s = train(quick(epochs=1), run, on_event=on_event, control=control, dataset=small_data)
    kinds = [e["type"] for e in events]
    assert s["status"] == "completed" and "paused" in kinds and time.monotonic() - t0 >= 0.4
    assert kinds.index("paused") == kinds.index("running") - 1


def test_the_control_file_stops_a_run_from_another_process(tmp_path, small_data, every_step):
    run = RunStore(tmp_path).create({})

    def write_stop(e):
        if e.get("global_step") == 5:
            (run.path / "control").write_text("stop\n")
            time.sleep(0.6)  # the file is read at most twice a second

    s = train(quick(epochs=1), run, on_event=write_stop, dataset=small_data)
    assert s["status"] == "stopped" and torch.load(run.checkpoint_path, weights_only=True)["step"] > 5


def test_step_events_are_throttled_to_means_and_each_epoch_ends_with_one(tmp_path, small_data, monkeypatch):
    every = []
    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 0)
    train(quick(epochs=2), RunStore(tmp_path).create({}), on_event=every.append, dataset=small_data)
    per_step = {e["global_step"]: e["loss"] for e in every if e["type"] == "step"}
    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 1e9)  # never by time: only each epoch's last step
    logged = []
    train(quick(epochs=2), RunStore(tmp_path).create({}), on_event=logged.append, dataset=small_data)
    steps = [e for e in logged if e["type"] == "step"]
    assert [e["global_step"] for e in steps] == [31, 63]
    sizes = [32] * 31 + [1000 - 31 * 32]  # per image: the epoch's last batch is smaller
    for e in steps:  # the mean loss of the epoch's images (the same steps as the every-step run: same seed)
        window = [per_step[g] for g in range(e["epoch"] * 32, e["global_step"] + 1)]
        mean = sum(loss * n for loss, n in zip(window, sizes)) / 1000
        assert e["loss"] == pytest.approx(mean, rel=1e-4)


def test_fractional_epochs_train_that_share_of_the_steps(tmp_path, small_data):
    events = []
    s = train(quick(epochs=0.5), RunStore(tmp_path).create({}), on_event=events.append, dataset=small_data)
    assert s["status"] == "completed"
    assert (
        events[0]["total_steps"] == 16 and max(e["global_step"] for e in events if e["type"] == "step") == 15
    )
    assert [e["type"] for e in events].count("epoch") == 1


def test_bf16_autocast_trains_on_the_cpu(tmp_path, small_data):
    s = train(
        quick(
            model="airbench-mini",
            amp="bf16",
            channels_last=True,
            optimizer="nesterov",
            lr=0.2,
            epochs=1,
            batch_size=100,
        ),
        RunStore(tmp_path).create({}),
        dataset=small_data,
    )
    assert s["status"] == "completed" and s["test_accuracy"] > 0.3


@pytest.mark.slow
def test_the_whitening_bias_learns_for_the_first_part_of_the_run_then_stays(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    biases = []  # the saved whitening bias at each checkpoint: the start of epochs 2, 3 and 4
    record = lambda e: (
        biases.append(torch.load(run.model_path)["whiten.bias"]) if e["type"] == "checkpoint" else None
    )
    s = train(
        quick(model="airbench-mini", optimizer="nesterov", lr=0.2, epochs=3, batch_size=100),
        run,
        on_event=record,
        dataset=small_data,
    )  # 30 steps; the bias trains for the first 9
    assert s["status"] == "completed" and len(biases) == 3
    assert torch.equal(biases[0], biases[1]) and torch.equal(biases[1], biases[2])  # frozen since step 9
    torch.manual_seed(0)  # the run's seed: the model as it was built
    assert not torch.equal(build_model("airbench-mini", len(small_data.classes)).whiten.bias, biases[0])


def test_a_diverging_run_fails_with_advice(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    s = train(quick(optimizer="sgd", lr=1e12, epochs=1), run, dataset=small_data)
    assert s["status"] == "failed" and "Lower the learning rate" in s["reason"]


def test_batch_larger_than_the_dataset_fails_clearly(tmp_path, small_data):
    run = RunStore(tmp_path).create({})
    s = train(quick(epochs=1, batch_size=5000), run, dataset=small_data)
    assert s["status"] == "failed" and "larger than the 1000 training images" in s["reason"]


@pytest.mark.slow
def test_lenet_trains_on_grayscale_batches(tmp_path, small_data):
    s = train(quick(model="lenet", epochs=1), RunStore(tmp_path).create({}), dataset=small_data)
    assert s["status"] == "completed"


@pytest.mark.slow
def test_cli_writes_a_run_and_prints_accuracy(tmp_path, capsys):
    threads = torch.get_num_threads()
    rc = main(
        [
            "--data",
            "synthetic",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--runs-dir",
            str(tmp_path),
            "--quiet",
            "--name",
            "cli",
            "--threads",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "test accuracy:" in out and "status: completed" in out
    (run,) = RunStore(tmp_path).list()
    summary = run.summary()
    for key in (
        "status",
        "test_accuracy",
        "per_class_accuracy",
        "train_seconds",
        "device",
        "epochs_completed",
    ):
        assert key in summary
    assert run.config()["batch_size"] == 64 and run.config()["preset"] == ""
    # --threads: the run trained on one thread and says so; this process keeps its own count
    assert summary["threads"] == 1 and summary["machine"].endswith("· 1 threads")
    assert torch.get_num_threads() == threads


@pytest.mark.slow
def test_cli_resume_continues_a_stopped_run(tmp_path, capsys):
    main(
        ["--data", "synthetic", "--epochs", "1", "--batch-size", "64", "--runs-dir", str(tmp_path), "--quiet"]
    )
    (run,) = RunStore(tmp_path).list()
    run.write_summary({**run.summary(), "status": "stopped"})
    ck = torch.load(run.checkpoint_path, weights_only=True)
    torch.save({**ck, "epoch": 0}, run.checkpoint_path)  # as if stopped before the epoch ended
    (run.path / "control").write_text("stop\n")  # the command that stopped it: must not stop the resumed run
    assert main(["--resume", run.id, "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert run.status == "completed"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "synthetic", "--lr", "abc"], "invalid float value"),
        (["--data", "synthetic", "--model", "vgg"], "invalid choice"),
        (["--data", "synthetic", "--device", "cuda:9"], "Available: cpu"),
        (["--data", "synthetic", "--lr", "-1"], "Learning rate must be a positive"),
        (["--epochs", "1"], "--data is required"),
        (["--resume", "../x"], "not a valid run id"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_message(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--runs-dir", str(tmp_path)])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_missing_data_folder_is_refused_before_a_run_folder_exists(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--data", str(tmp_path / "nowhere"), "--runs-dir", str(tmp_path / "r"), "--quiet"])
    assert e.value.code == 2 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
