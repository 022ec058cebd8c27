"""The classify page through AppTest (the canvas itself is exercised in the browser test)."""

import pytest

from core.runs import RunStore
from tests.apptest import open_page
from tests.wait import wait_for


@pytest.mark.slow
def test_no_runs_points_to_the_training_page_and_offers_a_demo_run(runs_dir):
    at = open_page("pages/classify.py")
    assert any("No trained runs yet" in i.value for i in at.info)
    at.button(key="cl_run_demo").click().run()
    (run,) = RunStore(runs_dir).list()
    assert run.config()["data"] == "synthetic" and run.config()["epochs"] == 3
    wait_for(lambda: run.status not in ("running", "paused"))
    assert run.status == "completed"


def test_with_a_run_the_page_waits_for_a_drawing(trained_run):
    run = trained_run("shapes")
    at = open_page("pages/classify.py")
    assert not at.exception and at.selectbox(key="cl_run").value == run.id
    assert any("Draw on the canvas" in i.value for i in at.info)
