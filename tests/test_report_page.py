"""The per-class report through AppTest, on a tiny run trained on generated data."""

from dataclasses import asdict

from core.runs import RunStore
from core.train import make_config, train
from tests.apptest import open_page


def trained_run(runs_dir, name):
    cfg = make_config(
        data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, epochs=2, device="cpu"
    )
    run = RunStore(runs_dir).create(asdict(cfg), name=name)
    train(cfg, run)
    return run


def test_no_runs_points_to_the_training_page(runs_dir):
    at = open_page("pages/report.py")
    assert any("No trained runs yet" in i.value for i in at.info)


def test_report_shows_accuracy_per_class_confusion_and_mistakes(runs_dir):
    first = trained_run(runs_dir, "first")
    second = trained_run(runs_dir, "second")
    at = open_page("pages/report.py")
    assert not at.exception
    accuracy = next(m for m in at.metric if m.label == "Test accuracy")
    assert accuracy.value == f"{100 * second.summary()['test_accuracy']:.1f} %"
    table = next(df.value for df in at.dataframe if "precision" in df.value.columns)
    assert len(table) == 10 and int(table["support"].sum()) == 1000
    at.selectbox(key="rp_other").set_value(first.id).run()
    at.toggle(key="rp_norm").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) >= 2
