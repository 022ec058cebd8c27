"""The app's pages through Streamlit's own test harness (real streamlit, real core)."""

from streamlit.testing.v1 import AppTest

from core.runs import RunStore
from core.train import make_config, train
from tests.apptest import APP


def test_home_renders_status_without_runs(runs_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value.startswith("🔥 Blitz Lab")
    text = " ".join(m.value for m in at.markdown)
    assert "torch" in text
    assert any("No runs yet" in i.value for i in at.info)


def test_home_lists_recent_runs(runs_dir, small_data):
    run = RunStore(runs_dir).create({"model": "tutorial", "epochs": 1, "data": "synthetic"}, name="shown")
    train(make_config(model="tutorial", epochs=1, batch_size=64, device="cpu"), run, dataset=small_data)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    tables = [df.value for df in at.dataframe]
    runs_table = next(t for t in tables if "run" in t.columns)
    assert runs_table["run"].tolist() == [run.id] and runs_table["status"].tolist() == ["completed"]
