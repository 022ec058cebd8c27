import json

import pandas as pd
import pytest

from core.config import make_config
from core.curves import (
    StepTable,
    curve_from_steps,
    downsample,
    epochs_frame,
    loss_curve,
    metrics_csv,
    progress,
    smooth,
)
from core.runs import EventLog, RunStore, run_row
from core.trainer import train
from ui.charts import (
    PALETTE,
    confusion_figure,
    descent_paths_figure,
    path_span,
    per_class_figure,
    topk_figure,
)


def logged(path, events) -> EventLog:
    """The events as a run's metrics.jsonl, read by an EventLog (as the live view reads them)."""
    with open(path, "a") as f:
        f.write("".join(json.dumps(e) + "\n" for e in events))
    log = EventLog(path)
    log.refresh()
    return log


def steps(n, t0=100.0, dt=0.01, epoch_len=None):
    epoch_len = epoch_len or n
    return [
        {
            "type": "step",
            "epoch": i // epoch_len,
            "step": i % epoch_len,
            "global_step": i,
            "loss": 1.0 + (i % 2),
            "lr": 0.1,
            "images_per_s": 400.0,
            "time": t0 + i * dt,
        }
        for i in range(n)
    ]


def test_smoothing_is_tensorboards_debiased_ema():
    values = pd.Series([1.0, 2.0, 3.0])
    w = 0.5
    # TensorBoard: last = last * w + (1 - w) * v, divided by (1 - w ** t)
    expected, last = [], 0.0
    for t, v in enumerate(values, 1):
        last = last * w + (1 - w) * v
        expected.append(last / (1 - w**t))
    assert smooth(values, w).tolist() == pytest.approx(expected)
    assert smooth(values, 0).tolist() == [1.0, 2.0, 3.0]


def test_a_25000_step_curve_is_downsampled_to_a_few_thousand_points():
    curve = loss_curve(steps(25_000), weight=0.0, max_points=2000)
    assert 1000 <= len(curve) <= 2000
    assert curve["loss"].mean() == pytest.approx(1.5, abs=0.01)  # bucket means keep the level
    assert downsample(pd.DataFrame({"a": range(10)}), 20).equals(pd.DataFrame({"a": range(10)}))


def test_progress_reports_epoch_step_and_eta(tmp_path):
    events = [{"type": "start", "steps_per_epoch": 100, "epochs": 2}] + steps(150, epoch_len=100)
    p = progress(logged(tmp_path / "metrics.jsonl", events))
    assert (p["epoch"], p["step"], p["fraction"]) == (2, 50, 0.75)
    assert p["eta_seconds"] == pytest.approx(0.5, rel=0.05)  # 50 steps left at 100 steps/s


def test_a_fractional_run_counts_the_epochs_it_runs_and_its_last_epochs_steps(tmp_path, small_data):
    """0.2 epochs of 1,000 images at batch 64: "epoch 1/1 · step 3/3" and "0.2/0.2" in the runs table,
    not "epoch 1/0.2 · step 3/16" and "1/0.2"."""
    for epochs, shown, steps_shown in ((0.2, "0.2/0.2", (1, 1, 3, 3)), (1.5, "1.5/1.5", (2, 2, 8, 8))):
        run = RunStore(tmp_path / str(epochs)).create({"model": "tutorial", "epochs": epochs}, name="part")
        cfg = make_config(model="tutorial", epochs=epochs, batch_size=64, device="cpu")
        assert train(cfg, run, dataset=small_data)["status"] == "completed"
        log = EventLog(run.metrics_path)
        log.refresh()
        p = progress(log)
        assert (p["epoch"], p["epochs"], p["step"], p["steps_per_epoch"]) == steps_shown
        assert p["fraction"] == 1.0 and run_row(run)["epochs"] == shown


def test_progress_shows_data_loading_before_the_first_step(tmp_path):
    events = [{"type": "data", "stage": "download", "done": 5, "total": 10}]
    assert progress(logged(tmp_path / "metrics.jsonl", events))["data"]["stage"] == "download"


def test_metrics_csv_has_every_step_and_the_epoch_results():
    events = steps(4, epoch_len=2) + [
        {
            "type": "epoch",
            "epoch": 1,
            "train_loss": 1.5,
            "test_loss": 1.2,
            "test_accuracy": 0.4,
            "train_seconds": 1,
        },
        {
            "type": "epoch",
            "epoch": 2,
            "train_loss": 1.4,
            "test_loss": 1.1,
            "test_accuracy": 0.5,
            "train_seconds": 2,
        },
    ]
    events.insert(2, events.pop(-2))  # epoch 1's event comes after its two steps
    frame = pd.read_csv(__import__("io").StringIO(metrics_csv(events)))
    assert len(frame) == 4 and frame["test_accuracy"].tolist()[1::2] == [0.4, 0.5]
    assert epochs_frame(events)["epoch"].tolist() == [1, 2]


def test_event_log_reads_only_new_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = EventLog(path)
    assert log.refresh() == []
    first, second = (json.dumps(e) for e in steps(2))
    path.write_text(first + "\n" + second[:10])
    assert [e["global_step"] for e in log.refresh()] == [0]
    with open(path, "a") as f:
        f.write(second[10:] + "\n")
    assert [e["global_step"] for e in log.refresh()] == [0, 1]


def test_the_step_table_reads_only_new_events_and_starts_over_after_a_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log, table = EventLog(path), StepTable()
    path.write_text("".join(json.dumps(e) + "\n" for e in steps(6)))
    events = log.refresh()
    # the live view's curve from the table is the one loss_curve builds from every event
    pd.testing.assert_frame_equal(curve_from_steps(table.update(events), 0.6), loss_curve(events, 0.6))
    # what the table has read is not read again (an event changed afterwards stays as it was read)
    events[0]["loss"] = 99.0
    assert table.update(events)["loss"].iloc[0] == 1.0
    # a resume from step 3 drops the later steps: the log's new list, and the table follows it
    with open(path, "a") as f:
        f.write('{"type": "resume", "global_step": 3, "epoch": 0, "step": 3, "time": 200.0}\n')
    assert table.update(log.refresh())["global_step"].tolist() == [0, 1, 2]


def test_progress_follows_the_log_through_a_pause_and_a_resume_that_drops_steps(tmp_path):
    path = tmp_path / "metrics.jsonl"
    start = {"type": "start", "steps_per_epoch": 100, "epochs": 3, "time": 0.0}
    epochs = [{"type": "epoch", "epoch": k, "test_accuracy": k / 10, "time": 3.0 + k} for k in (1, 2)]
    paused, running = {"type": "paused", "time": 4.0}, {"type": "running", "time": 90.0}
    # 250 steps at 100 a second, the two epochs, a pause; 10 steps at 1 a second after it
    log = logged(path, [start, *steps(250, t0=0.0, epoch_len=100), *epochs, paused, running])
    log = logged(path, [dict(e, time=91.0 + i) for i, e in enumerate(steps(260, epoch_len=100)[250:])])
    p = progress(log)
    assert (p["epoch"], p["step"], p["fraction"]) == (3, 60, 260 / 300)
    assert p["eta_seconds"] == pytest.approx(40 / 1.0)  # the rate since the pause: one step a second
    assert [e["test_accuracy"] for e in log.epochs] == [0.1, 0.2]
    # a resume from step 150 (epoch 1) drops the later steps and epoch 2; then 10 steps at 2 a second
    resume = {"type": "resume", "global_step": 150, "epoch": 1, "step": 50, "time": 200.0}
    again = [dict(e, time=201.0 + i / 2) for i, e in enumerate(steps(160, epoch_len=100)[150:])]
    fresh = progress(logged(path, [resume, *again]))
    log.refresh()
    p = progress(log)
    assert p == fresh  # read incrementally or from scratch, the same
    assert (p["epoch"], p["step"], p["fraction"]) == (2, 60, 160 / 300)
    assert p["eta_seconds"] == pytest.approx(140 / 2.0)
    assert [e["test_accuracy"] for e in log.epochs] == [0.1]
    assert log.latest["step"]["global_step"] == 159


def test_per_class_bars_are_sorted_by_the_first_runs_accuracy_one_colour_per_run():
    fig = per_class_figure(
        {"r1": {"cat": 0.5, "dog": 0.9, "car": 0.7}, "r2": {"cat": 1.0, "dog": 0.0, "car": 0.2}}
    )
    assert fig["layout"]["xaxis"]["categoryarray"] == ["dog", "car", "cat"]
    assert [b["name"] for b in fig["data"]] == ["r1", "r2"]
    assert fig["data"][1]["y"] == [100.0, 0.0, 20.0]
    assert [b["marker"]["color"] for b in fig["data"]] == PALETTE[:2]


def test_confusion_heatmap_shows_counts_or_shares():
    counts = confusion_figure([[3, 1], [0, 4]], ["a", "b"], normalized=False)["data"][0]
    shares = confusion_figure([[0.75, 0.25], [0, 1]], ["a", "b"], normalized=True)["data"][0]
    assert counts["z"] == [[3, 1], [0, 4]] and counts["texttemplate"] == "%{z}"
    assert shares["texttemplate"] == "%{z:.2f}" and shares["y"] == ["a", "b"]


def test_top_k_bars_put_the_most_probable_class_at_the_top():
    bars = topk_figure([("dog", 0.7), ("cat", 0.2), ("car", 0.1)])["data"][0]
    assert bars["y"] == ["car", "cat", "dog"] and bars["x"] == pytest.approx([10, 20, 70])


def test_descent_plot_spans_every_path_and_at_least_three():
    assert path_span([[(0.5, -1.0)]]) == 3.0
    assert path_span([[(0.0, 0.0), (-5.0, 1.0)], [(2.0, 4.0)]]) == pytest.approx(6.0)
    assert path_span([]) == 3.0  # every optimizer diverged: the default view
    fig = descent_paths_figure(
        {"x": [0, 1], "y": [0, 1], "z": [[0, 1], [1, 2]]}, {"sgd": [(0, 0), (1, 1)]}, 3.0
    )
    assert [t["type"] for t in fig["data"]] == ["contour", "scatter"] and fig["data"][1]["x"] == (0, 1)
    assert fig["layout"]["xaxis"]["range"] == [-3.0, 3.0]


def test_the_eta_after_a_pause_uses_the_rate_since_the_resume(tmp_path):
    start = {"type": "start", "steps_per_epoch": 100, "epochs": 1, "total_steps": 100, "time": 0.0}
    before = [dict(e, time=float(i)) for i, e in enumerate(steps(10))]
    after = [dict(e, time=80.0 + i) for i, e in enumerate(steps(20)) if i >= 10]
    events = [start, *before, {"type": "paused", "time": 10.0}, {"type": "running", "time": 89.0}, *after]
    # one step a second since the resume: 80 steps left → 80 s (the 80-s pause must not count)
    assert progress(logged(tmp_path / "metrics.jsonl", events))["eta_seconds"] == pytest.approx(80.0)
