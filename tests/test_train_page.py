"""The training page through Streamlit's AppTest, with real jobs on generated data."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.runs import RunStore
from tests.apptest import APP, open_page
from tests.wait import wait_for


def plain(markdown: str) -> str:
    """Markdown escaped by ui.safe.md, as the browser shows it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> str:
    return " | ".join(plain(e.value) for e in at.error)


def test_the_form_starts_from_the_tutorial_recipe_and_shows_the_cli(runs_dir):
    at = open_page("pages/train.py")
    assert at.selectbox(key="f_preset").value == "tutorial"
    assert (at.number_input(key="f_batch_size").value, at.number_input(key="f_lr").value) == (4, 0.001)
    assert any("python -m core.train --data synthetic --preset tutorial" in c.value for c in at.code)
    assert not at.button(key="start").disabled
    assert any("No runs yet" in i.value for i in at.info)


def test_a_preset_fills_the_form_and_edits_show_as_flags(runs_dir):
    at = open_page("pages/train.py")
    at.selectbox(key="f_preset").set_value("fast-cpu").run()
    assert (
        at.selectbox(key="f_model").value == "airbench-mini"
        and at.number_input(key="f_batch_size").value == 256
    )
    assert (
        at.number_input(key="f_norm_bias_lr_scale").value == 64 and at.selectbox(key="f_amp").value == "bf16"
    )
    at.number_input(key="f_epochs").set_value(3).run()
    assert any("--preset fast-cpu" in c.value and c.value.endswith("--epochs 3") for c in at.code)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("f_lr", 0.0, "Learning rate must be a positive number"),
        ("f_batch_size", 6000, "larger than the 5,000 training images"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(runs_dir, key, value, message):
    at = open_page("pages/train.py")
    at.number_input(key=key).set_value(value).run()
    assert message in errors(at) and at.button(key="start").disabled


def test_a_folder_that_is_not_imagefolder_layout_is_explained(runs_dir, tmp_path):
    at = open_page("pages/train.py")
    at.radio(key="f_data").set_value("folder").run()
    assert "Enter the path of your image folder." in errors(at)
    (tmp_path / "pics" / "cats").mkdir(parents=True)
    at.text_input(key="f_folder").input(str(tmp_path / "pics")).run()
    assert "not in ImageFolder layout" in errors(at) and at.button(key="start").disabled


@pytest.mark.slow
def test_start_streams_events_and_stop_ends_the_run(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(50).run()
    at.button(key="start").click().run()
    assert not at.exception
    (run,) = RunStore(runs_dir).list()
    assert at.query_params["run"] == run.id
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    at.run()
    assert any(run.id in m.value and "running" in m.value for m in at.markdown)
    at.button(key="live_stop").click().run()
    wait_for(lambda: run.status == "stopped", 10)
    at.run()
    assert any("stopped" in m.value for m in at.markdown)
    assert run.checkpoint_path.exists()


@pytest.mark.slow
def test_a_second_start_on_a_busy_device_names_the_run(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(50).run()
    at.button(key="start").click().run()
    (run,) = RunStore(runs_dir).list()
    try:
        second = AppTest.from_file(APP, default_timeout=60)
        second.switch_page("pages/train.py").run()
        assert (
            f"Device cpu is busy with run {run.id}." in errors(second) and second.button(key="start").disabled
        )
    finally:
        at.button(key="live_stop").click().run()
        wait_for(lambda: run.status == "stopped", 10)


@pytest.mark.slow
def test_a_failed_run_says_why(runs_dir):
    at = open_page("pages/train.py")
    at.selectbox(key="f_optimizer").set_value("sgd").run()
    at.number_input(key="f_lr").set_value(10.0).run()  # the largest accepted: diverges at once
    at.button(key="start").click().run()
    (run,) = RunStore(runs_dir).list()
    wait_for(lambda: run.status == "failed")
    at.run()
    assert "Lower the learning rate" in errors(at)


def test_the_form_keeps_its_values_across_pages(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(40).run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert at.number_input(key="f_epochs").value == 40
