"""The tutorial's console rebuilt from a run's events (core/console.py), printed by the CLI for the tutorial
preset (core/train.py) and shown on the Train page (ui/recipe_view.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.console import accuracy_percent, console_lines
from core.runs import RunStore
from core.train import main

START = {"type": "start", "dataset": "cifar10: 50,000 train / 10,000 test images, 10 classes"}


def step(epoch: int, step: int, loss: float) -> dict:
    return {"type": "step", "epoch": epoch, "step": step, "global_step": step, "loss": loss, "lr": 0.001,
            "images_per_s": 3000.0}  # fmt: skip


def epoch_end(epoch: int, accuracy: float, per_class: dict[str, float]) -> dict:
    return {"type": "epoch", "epoch": epoch, "train_loss": 1.0, "test_accuracy": accuracy,
            "per_class_accuracy": per_class}  # fmt: skip


def test_loss_lines_weigh_each_event_by_its_steps_and_split_those_across_a_window_edge():
    events = [
        START,
        step(0, 699, 2.3),  # steps 0-699
        step(0, 1399, 2.2),  # 700-1399
        step(0, 2099, 2.013),  # 1400-2099: 600 steps in the first window, 100 in the second
        step(0, 2799, 1.9),
        step(0, 3999, 1.8),  # closes the second window
        step(0, 4999, 1.7),  # half a window: no line (the tutorial prints full windows only)
        epoch_end(1, 0.41, {"plane": 0.4, "car": 0.42}),
        step(1, 1999, 1.5),
        epoch_end(2, 0.28999999165534973, {"plane": 0.552, "car": 0.601}),  # float32's 0.29
        {"type": "end", "status": "completed", "reason": ""},
    ]
    assert console_lines(events, 4) == [
        "[1,  2000] loss: 2.179",  # (700 × 2.3 + 700 × 2.2 + 600 × 2.013) / 2000
        "[1,  4000] loss: 1.846",  # (100 × 2.013 + 700 × 1.9 + 1200 × 1.8) / 2000
        "[2,  2000] loss: 1.500",
        "Finished Training",
        "Accuracy of the network on the 10000 test images: 29 %",
        "Accuracy for class: plane is 55.2 %",
        "Accuracy for class: car   is 60.1 %",
    ]


def test_in_chinese_the_lines_are_the_tutorials_chinese_ones():
    events = [
        START,
        step(0, 1999, 2.0),
        epoch_end(1, 0.5, {"plane": 0.552}),
        {"type": "end", "status": "completed"},
    ]
    assert console_lines(events, 4, "zh") == [
        "[1,  2000] 损失: 2.000",
        "训练完成",
        "网络在 10000 张测试图像上的准确率: 50 %",
        "类别 plane 的准确率: 55.2 %",
    ]
    assert console_lines(events, 4)[1] == "Finished Training"  # English by default (the command line)


def test_a_running_run_has_no_results_yet_and_a_stopped_one_none_either():
    events = [START, step(0, 1999, 2.0)]
    assert console_lines(events, 4) == ["[1,  2000] loss: 2.000"]
    stopped = events + [epoch_end(1, 0.3, {"a": 0.3}), {"type": "end", "status": "stopped", "reason": "x"}]
    assert console_lines(stopped, 4) == ["[1,  2000] loss: 2.000"]


def test_other_batch_sizes_print_every_8000_images_said_once_and_a_short_epoch_gets_one_line():
    # batch 256: a line every 31 mini-batches; an epoch of 20 mini-batches gets one line at its end
    events = [START, step(0, 9, 2.0), step(0, 19, 1.0), epoch_end(1, 0.5, {})]
    events += [step(1, 19, 0.5), epoch_end(2, 0.6, {})]
    assert console_lines(events, 256) == [
        "# loss: the mean over every 31 mini-batches of 256 (7,936 images); "
        "the tutorial prints every 2,000 mini-batches of 4",
        "[1,    20] loss: 1.500",
        "[2,    20] loss: 0.500",
    ]


def test_a_resumed_run_continues_its_window_and_the_steps_without_a_logged_loss_do_not_count():
    events = [
        START,
        step(0, 999, 2.0),
        {"type": "end", "status": "stopped", "reason": "stopped by the user"},
        {"type": "resume", "epoch": 0, "step": 1200, "global_step": 1200},  # 1000-1199 ran, not logged
        step(0, 1999, 1.0),
    ]
    assert console_lines(events, 4) == ["[1,  2000] loss: 1.556"]  # (1000 × 2.0 + 800 × 1.0) / 1800


def test_without_the_start_event_the_accuracy_line_leaves_out_the_test_set_size():
    events = [step(0, 99, 1.0), epoch_end(1, 0.5, {}), {"type": "end", "status": "completed"}]
    assert console_lines(events, 4)[-1] == "Accuracy of the network on the test images: 50 %"
    assert accuracy_percent(0.536) == 53 and accuracy_percent(1.0) == 100


def _printed_console(out: str) -> list[str]:
    """The CLI's stdout between its first line (the run folder) and its report (status: ...)."""
    lines = out.splitlines()
    return lines[1 : next(i for i, line in enumerate(lines) if line.startswith("status:"))]


def test_the_cli_prints_the_tutorial_console_for_the_tutorial_preset(tmp_path, capsys):
    rc = main(["--data", "synthetic", "--preset", "tutorial", "--epochs", "0.2", "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    (run,) = RunStore(tmp_path).list()
    printed = _printed_console(out)
    assert rc == 0 and printed == console_lines(run.events(), 4)
    # 250 mini-batches, fewer than 2,000: one loss line at the epoch's end, then the results, 10 classes
    assert printed[0].startswith("[1,   250] loss: ") and printed[1] == "Finished Training"
    accuracy = run.summary()["test_accuracy"]
    assert printed[2] == f"Accuracy of the network on the 1000 test images: {accuracy_percent(accuracy)} %"
    assert len(printed) == 3 + 10 and printed[3].startswith("Accuracy for class: disc  is ")


@pytest.mark.parametrize(
    ("flags", "console"),
    [
        (["--preset", "tutorial", "--progress", "bar"], False),
        (["--batch-size", "100", "--progress", "console"], True),
    ],
)
def test_the_progress_flag_picks_the_printer(tmp_path, capsys, flags, console):
    assert main(["--data", "synthetic", "--epochs", "0.2", "--runs-dir", str(tmp_path), *flags]) == 0
    out = capsys.readouterr().out
    assert ("Finished Training" in out) is console
    assert ("# loss: the mean over every 80 mini-batches of 100" in out) is console


def test_a_bad_progress_choice_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--data", "synthetic", "--progress", "loud", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "--progress" in err
    assert not list(tmp_path.iterdir())


def _panel(events: list[dict], batch_size: int) -> None:
    from ui.recipe_view import console_panel

    console_panel(events, batch_size)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_console_panel_shows_the_lines_and_says_how_often(lang):
    events = [START, step(0, 1999, 2.0)]
    at = AppTest.from_function(_panel, args=(events, 4), default_timeout=30)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    # the tutorial's Chinese edition prints 损失
    assert at.code[0].value == ("[1,  2000] 损失: 2.000" if lang == "zh" else "[1,  2000] loss: 2.000")
    caption = at.caption[0].value
    assert "2,000" in caption and (
        ("教程的训练循环" in caption) if lang == "zh" else ("tutorial's" in caption)
    )


def test_the_console_panel_before_the_first_line_says_when_it_comes():
    at = AppTest.from_function(_panel, args=([START, step(0, 99, 2.0)], 4), default_timeout=30).run()
    assert not at.exception and not at.code
    assert "the first comes after 2,000 mini-batches" in at.caption[1].value


def test_a_short_epoch_says_its_first_line_comes_at_its_end():
    """The demo set's 1,250 mini-batches an epoch at batch 4: the loop prints the epoch's mean loss at its
    end, before 2,000 mini-batches."""
    start = {**START, "steps_per_epoch": 1250}
    at = AppTest.from_function(_panel, args=([start, step(0, 99, 2.0)], 4), default_timeout=30).run()
    assert not at.exception and "the first comes after 1,250 mini-batches" in at.caption[1].value
