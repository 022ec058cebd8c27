"""The app's pages through Streamlit's own test harness (real streamlit, real core)."""

import inspect
import re
from dataclasses import asdict

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from core.config import make_config
from core.runs import RunStore
from core.trainer import train
from tests.apptest import APP
from ui.runs_panel import changed_statuses


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


def test_home_shows_the_runs_folder_as_text(runs_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    info = next(i.value for i in at.info if "No runs yet" in i.value)
    assert str(runs_dir) in re.sub(r"\\(.)", r"\1", info) and f"`{runs_dir}`" not in info


def test_home_in_chinese_lists_runs_with_their_status_and_problems(runs_dir, small_data):
    run = RunStore(runs_dir).create({"model": "tutorial", "epochs": 1, "data": "synthetic"}, name="shown")
    train(make_config(model="tutorial", epochs=1, batch_size=64, device="cpu"), run, dataset=small_data)
    with open(run.metrics_path, "a") as f:
        f.write("not json\n")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    runs_table = next(df.value for df in at.dataframe if "run" in df.value.columns)
    assert runs_table["status"].tolist() == ["已损坏"]
    assert runs_table["problems"].tolist() == ["metrics.jsonl 有 1 行无法读取。"]
    datasets = next(df.value for df in at.dataframe if "dataset" in df.value.columns)
    assert datasets["status"].tolist() == ["就绪", "未下载"]


FLAG_CHANGED = (
    "Streamlit no longer has or honours PagesManager.uses_pages_directory, the private flag "
    "ui.through_navigation uses so that the first request for a page runs through app.py's st.navigation "
    "(see its docstring). Find what replaced the pages/-folder (v1) mode in this Streamlit version, adapt "
    "ui/__init__.py, and check in a browser that /train opened first on a fresh server shows the sidebar."
)


NAVIGATING_APP = """
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

st.session_state["flag_before_navigation"] = PagesManager.uses_pages_directory


def only():
    st.write("only page")


st.navigation([st.Page(only)]).run()
"""


def test_the_private_flag_the_first_request_workaround_needs_still_works(tmp_path):
    """ui.through_navigation reads and clears a private Streamlit flag: fail here, with what to do, before
    an upgrade silently brings back pages run without app.py."""
    assert "PagesManager.uses_pages_directory" in inspect.getsource(script_runner.ScriptRunner), FLAG_CHANGED
    # an app with a pages/ folder starts in that mode, and st.navigation turns it off
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "other.py").write_text("import streamlit as st\nst.write('other')\n")
    (tmp_path / "app.py").write_text(NAVIGATING_APP)
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=60).run()
    assert not at.exception and at.markdown[0].value == "only page"
    assert at.session_state["flag_before_navigation"] is True, FLAG_CHANGED
    assert PagesManager.uses_pages_directory is False, FLAG_CHANGED


def test_a_paused_run_shows_its_status_and_a_dash_for_what_it_has_not_measured(runs_dir):
    cfg = make_config(data="synthetic", model="tutorial", epochs=1, device="cpu")
    run = RunStore(runs_dir).create(asdict(cfg))  # running, owned by this test's process
    run.write_summary({**run.summary(), "status": "paused"})
    for page in ("app.py", "pages/train.py"):
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["lang"] = "zh"
        at.switch_page(page).run()
        assert not at.exception
        table = next(df for df in at.dataframe if "run" in df.value.columns)
        assert table.value["status"].tolist() == ["已暂停"]
        assert table.value[["best accuracy", "train s"]].isna().all(axis=None)
        assert table.proto.placeholder == "–"  # what the browser shows for them, instead of "None"


def test_the_runs_table_sees_a_status_change_made_elsewhere(runs_dir):
    store = RunStore(runs_dir)
    run = store.create({"model": "tutorial", "device": "cpu", "epochs": 1})
    assert not changed_statuses(store, {run.id: "running"})
    run.write_summary({**run.summary(), "status": "paused"})  # as the live view's Pause leads to
    assert changed_statuses(store, {run.id: "running"})
    assert not changed_statuses(store, {run.id: "paused"})
    assert changed_statuses(store, {"20000101-000000-gone-abcd": "running"})


def test_home_and_train_give_one_verdict_on_a_cifar10_copy_that_is_not_official(runs_dir, monkeypatch):
    """Issue 21: Home said "ready" while Train refused the same files; now both say the same sentence."""
    from core import cifar
    from tests.generated import fake_cifar

    monkeypatch.setenv(cifar.URL_ENV, "http://127.0.0.1:9/none.tar.gz")
    fake_cifar(runs_dir.parent / "data")
    for lang, status in (("en", "not the official copy"), ("zh", "不是官方版本")):
        home = AppTest.from_file(APP, default_timeout=60)
        home.query_params["lang"] = lang
        home.run()
        datasets = next(df.value for df in home.dataframe if "dataset" in df.value.columns)
        row = datasets[datasets["dataset"] == "cifar10"].iloc[0]
        assert row["status"] == status
        train = AppTest.from_file(APP, default_timeout=60)
        train.query_params["lang"] = lang
        train.switch_page("pages/train.py").run()
        # the Train form's refusal, word for word (its markdown escapes shown as the browser shows them)
        assert row["detail"] in [re.sub(r"\\(.)", r"\1", e.value) for e in train.error]
