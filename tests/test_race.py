"""Chapter 5's device race (core/race.py): the CPU lane trains and is timed, a lane whose device fails
ends with its message while the others finish, bad arguments are refused, and the page's recorded GPU
figures are read back from docs/BENCHMARKS.md."""

from __future__ import annotations

import math

import pytest
import torch

from core.models import Net
from core.race import (
    PAGE_BATCH_SIZES,
    PAGE_MAX_STEPS,
    PAGE_MIN_STEPS,
    PAGE_WIDTHS,
    RECORD_HEADING,
    WARMUP_STEPS,
    RaceError,
    forward_flops,
    lane_stopped,
    net_size,
    page_max_steps,
    race_net,
    recorded_results,
    run_race,
)


def test_the_cpu_lane_completes_with_a_speed_and_a_finite_loss():
    seen = []
    race = run_race(width=1, steps=12, batch_size=32, devices=["cpu"], progress=lambda *a: seen.append(a))
    (lane,) = race.lanes
    assert lane.error is None and lane.steps == 12
    assert lane.images_per_second > 0 and lane.seconds > 0
    assert all(math.isfinite(x) for x in lane.losses)
    assert seen[-1] == ("cpu", 12, 12) and len(seen) == 12
    assert race.parameters == sum(p.numel() for p in Net().parameters())


@pytest.mark.slow
def test_more_steps_of_the_tutorial_recipe_bring_the_loss_down():
    (lane,) = run_race(width=2, steps=60, batch_size=32, devices=["cpu"]).lanes
    assert sum(lane.losses[-10:]) / 10 < sum(lane.losses[:10]) / 10


def test_a_failing_lane_ends_with_its_message_and_the_others_finish():
    race = run_race(width=1, steps=6, batch_size=4, devices=["no-such-device", "cuda:97", "cpu"])
    missing, gpu, cpu = race.lanes
    for lane in (missing, gpu):
        assert lane.steps == 0 and lane.images_per_second is None
        assert str(lane.error).startswith(f"The {lane.device} lane stopped after 0 of 6 steps: ")
    assert "no-such-device" in str(missing.error)
    assert cpu.error is None and cpu.steps == 6 and cpu.images_per_second > 0


def test_every_device_races_from_the_same_weights_on_the_same_batches():
    first, second = run_race(width=1, steps=5, batch_size=4, devices=["cpu", "cpu"]).lanes
    assert first.losses == second.losses


def test_running_out_of_memory_says_so():
    error = lane_stopped("cuda:0", 3, 10, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert str(error) == (
        "The cuda:0 lane ran out of memory after 3 of 10 steps: try a narrower network or a smaller batch."
    )


@pytest.mark.parametrize(
    "width, steps, batch, words",
    [(0, 10, 4, "width"), (65, 10, 4, "width"), (1, WARMUP_STEPS, 4, "steps"), (1, 10, 0, "batch size")],
)
def test_bad_arguments_are_refused_before_anything_runs(width, steps, batch, words):
    with pytest.raises(RaceError, match=words):
        run_race(width, steps, batch, devices=["cpu"])


def test_width_multiplies_the_conv_channels_and_the_work_grows_with_it():
    assert str(race_net(1)) == str(Net())
    wide = race_net(4)
    assert (wide.conv1.out_channels, wide.conv2.in_channels, wide.conv2.out_channels) == (24, 24, 64)
    assert wide(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    flops = [forward_flops(w) for w in PAGE_WIDTHS]
    assert flops == sorted(flops) and flops[-1] > 50 * flops[0]


def test_a_widths_sizes_are_read_off_its_network():
    """What the GPU page says about a width (channels, parameters, work) comes from the raced network."""
    assert net_size(1).parameters == sum(p.numel() for p in Net().parameters())
    size, wide = net_size(4), race_net(4)
    assert (size.conv1, size.conv2) == (wide.conv1.out_channels, wide.conv2.out_channels) == (24, 64)
    assert size.parameters == sum(p.numel() for p in wide.parameters())
    assert size.forward_flops == forward_flops(4)


def test_the_page_offers_fewer_steps_for_more_work():
    for batch in PAGE_BATCH_SIZES:
        steps = [page_max_steps(w, batch) for w in PAGE_WIDTHS]
        assert steps == sorted(steps, reverse=True)
        assert all(PAGE_MIN_STEPS <= s <= PAGE_MAX_STEPS for s in steps)
    assert page_max_steps(1, 4) == PAGE_MAX_STEPS
    assert page_max_steps(PAGE_WIDTHS[-1], PAGE_BATCH_SIZES[-1]) < PAGE_MAX_STEPS


def test_recorded_tables_are_read_from_their_section_only(tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(
        "# Benchmarks\n\n| device | images/s |\n| --- | --- |\n| elsewhere | 1 |\n\n"
        f"{RECORD_HEADING}\n\nmachine: test\n\n"
        "| device | width | images/s |\n| --- | --- | --- |\n"
        "| cpu | 1 | 2,000 |\n| cuda:0 (H100) | 16 | 9 |\n\n"
        "## Next section\n\n| device | images/s |\n| --- | --- |\n| later | 3 |\n"
    )
    assert recorded_results(doc) == [
        {"device": "cpu", "width": "1", "images/s": "2,000"},
        {"device": "cuda:0 (H100)", "width": "16", "images/s": "9"},
    ]
    assert recorded_results(tmp_path / "missing.md") == []


def test_the_benchmarks_record_the_cpu_race():
    rows = recorded_results()
    assert {row["device"] for row in rows} >= {"cpu"}
    assert {int(row["width"]) for row in rows if row["device"] == "cpu"} >= set(PAGE_WIDTHS)
