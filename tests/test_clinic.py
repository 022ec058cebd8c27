"""The fix-the-bug clinic: each broken loop, run for real on the fixed seed, shows the symptom its
explanation promises, beside a correct loop that learns; the code shown is the code that ran."""

from __future__ import annotations

import math

import pytest

from core.clinic import CASES, DIAGNOSES, case_run, correct_run


def _end(losses) -> float:
    """The mean loss of the last 20 steps (one batch is noisy)."""
    return sum(losses[-20:]) / 20


@pytest.fixture(scope="module")
def correct():
    run = correct_run()
    assert run.error is None and len(run.losses) == 240
    # the correct loop learns: from ln 10 ≈ 2.30 to well below
    assert run.losses[0] > 2.2 and _end(run.losses) < 1.5
    return run


def test_without_zero_grad_the_steps_grow_and_the_loss_ends_higher(correct):
    run = case_run(1)
    assert "optimizer.zero_grad()" not in run.code
    assert max(run.grad_norms[:100]) > 10 * max(correct.grad_norms[:100])
    assert math.isnan(_end(run.losses)) or _end(run.losses) > _end(correct.losses) + 0.5


def test_softmax_before_the_loss_leaves_it_near_ln_10_with_tiny_gradients(correct):
    run = case_run(2)
    assert "criterion(F.softmax(outputs, dim=1), labels)" in run.code
    assert abs(_end(run.losses) - math.log(10)) < 0.05
    assert max(run.grad_norms) < max(correct.grad_norms) / 10


def test_a_wrong_in_features_stops_at_the_first_step_with_torchs_error():
    run = case_run(3)
    assert run.losses == () and run.error is not None
    assert run.error.startswith(
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (16x400 and 576x120)"
    )


def test_a_hundred_times_the_learning_rate_shoots_up_and_ends_far_above_the_correct_loop(correct):
    run = case_run(4)
    assert "lr=3.0" in run.code
    assert max(run.losses[:20]) > 10  # the first steps overshoot: off the chart
    assert _end(run.losses) > max(_end(correct.losses) + 0.5, math.log(10))


def test_without_step_the_loss_stays_at_chance_and_each_epoch_repeats_the_last(correct):
    run = case_run(5)
    assert "optimizer.step()" not in run.code and "loss.backward()" in run.code
    assert abs(_end(run.losses) - math.log(10)) < 0.05 and run.grad_norms  # gradients computed, never used
    per_epoch = len(run.losses) // 4
    assert run.losses[:per_epoch] == run.losses[per_epoch : 2 * per_epoch]  # the weights never changed


def test_each_case_is_one_change_and_its_answer_shows_the_diff():
    keys = {o.key for o in DIAGNOSES}
    for case in CASES:
        assert case.diagnosis in keys
        diff = case.diff().splitlines()
        removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
        added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
        assert len(removed) + len(added) in (1, 2), diff  # one line changed, added or dropped


def test_the_clinic_chart_ends_a_line_at_nan_and_keeps_the_correct_curve_readable():
    from ui.charts import clinic_figure

    fig = clinic_figure([2.3, 1.0], [2.3, 5e5, float("nan")], "loss", "loss")
    assert fig["data"][1]["y"] == [2.3, 5e5, None]
    assert fig["layout"]["yaxis"]["range"] == [0, pytest.approx(3.9)]  # 5e5 runs off the top
    assert clinic_figure([1.0], [1e6], "norm", "norm", log=True)["layout"]["yaxis"]["type"] == "log"
