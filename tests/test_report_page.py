"""The per-class report through AppTest, on a tiny run trained on generated data."""

import pytest

from core.evaluate import evaluate_run
from tests.apptest import open_page


def test_no_runs_points_to_the_training_page(runs_dir):
    at = open_page("pages/report.py")
    assert any("No trained runs yet" in i.value for i in at.info)


@pytest.mark.slow
def test_report_shows_accuracy_per_class_confusion_and_mistakes(trained_run):
    first = trained_run("first")
    second = trained_run("second")
    at = open_page("pages/report.py")
    assert not at.exception
    accuracy = next(m for m in at.metric if m.label == "Test accuracy")
    assert accuracy.value == f"{100 * second.summary()['test_accuracy']:.1f} %"
    table = next(df.value for df in at.dataframe if "precision" in df.value.columns)
    assert len(table) == 10 and int(table["support"].sum()) == 1000
    at.selectbox(key="rp_other").set_value(first.id).run()
    at.toggle(key="rp_norm").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) >= 2
    # the mistakes shown are the report's: the true class most often taken for the selected one
    report, _ = evaluate_run(second)
    true = at.selectbox(key="rp_true").value
    taken, count = report.taken_for(true)[0]
    assert at.selectbox(key="rp_pred").value == taken
    if count:
        shown = min(count, 24)
        caption = (
            f"{true} taken for {taken}: {count} test images; the first {shown} with the model's confidence."
        )
        assert any(c.value == caption for c in at.caption)
    else:
        assert any(i.value == f"No {true} was taken for a {taken}." for i in at.info)
