"""The per-class report through AppTest, on tiny runs trained on generated data, in English and 中文; and a
click on a confusion-matrix cell in Chromium."""

import json

import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from core.evaluation import evaluate_run
from tests.apptest import APP, open_page
from ui.safe import md


def open_report(lang: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = lang
    at.switch_page("pages/report.py").run()
    assert not at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def shown_mistakes(at: AppTest) -> list[str]:
    """The confidence captions of the test images shown under "Where it goes wrong", in the page's order
    (8 columns, filled row by row; AppTest lists them column by column)."""
    columns = [image.proto.imgs[0].caption for image in at.get("image")]
    rows = (len(columns) + 7) // 8
    # column j holds images j, j + 8, …: put each caption back at its place
    order = [j + 8 * r for j in range(8) for r in range(rows) if j + 8 * r < len(columns)]
    return [caption for _place, caption in sorted(zip(order, columns))]


def test_no_runs_points_to_the_training_page(runs_dir):
    at = open_page("pages/report.py")
    assert any("No trained runs yet" in i.value for i in at.info)


@pytest.mark.slow
def test_report_shows_accuracy_per_class_confusion_and_mistakes(trained_run):
    first = trained_run("first")
    second = trained_run("second")
    at = open_report("en")
    shown = metrics(at)
    assert shown["Test accuracy"] == f"{100 * second.summary()['test_accuracy']:.1f} %"
    # generated shapes, not CIFAR-10: chance and the earlier run, never the tutorial's 54 %
    assert shown["Chance (1 / 10 classes)"] == "10 %"
    assert shown["Best earlier run on the same data"] == f"{100 * first.summary()['test_accuracy']:.1f} %"
    assert not any("tutorial" in label for label in shown)
    assert any(f"Best earlier run: {md(first.id)}." in c.value for c in at.caption)
    assert [b.proto.label for b in at.get("download_button")] == ["⬇ metrics.csv", "⬇ model.pth"]
    table = next(df.value for df in at.dataframe if "precision" in df.value.columns)
    assert len(table) == 10 and int(table["support"].sum()) == 1000
    # the per-class bars draw chance; the confusion matrix's cells can be clicked, each naming its pair
    bars, confusion = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    assert bars["layout"]["shapes"][0]["y0"] == pytest.approx(10)
    # named in the legend above the plot, not written over the bars
    assert "annotations" not in bars["layout"] and bars["layout"]["legend"]["y"] > 1
    assert [t["name"] for t in bars["data"]][-1] == "chance (10 %)"
    assert at.get("plotly_chart")[1].proto.selection_mode and confusion["data"][1]["customdata"][12] == [1, 2]
    at.selectbox(key="rp_other").set_value(first.id).run()
    at.toggle(key="rp_norm").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) >= 2

    # the mistakes shown are the report's: the true class most often taken for the selected one
    report, ds = evaluate_run(second)
    true = at.selectbox(key="rp_true").value
    taken, count = report.taken_for(true)[0]
    assert at.selectbox(key="rp_pred").value == taken
    if count:
        caption = (
            f"{md(true)} mistaken for {md(taken)}: {count} test images; the first {min(count, 24)} with the "
            "model's confidence."
        )
        assert any(c.value == caption for c in at.caption)
    else:
        assert any(i.value == md(f"No {true} was mistaken for a {taken}.") for i in at.info)

    # what a click on a cell selects (ui: the pair in the two boxes): its images, correct ones included
    for t, p in [(report.classes[3], report.classes[7]), (report.classes[2], report.classes[2])]:
        at.selectbox(key="rp_true").set_value(t).run()
        at.selectbox(key="rp_pred").set_value(p).run()
        expected = [f"{100 * confidence:.1f} %" for _i, confidence in report.mistakes(ds.test_y, t, p)]
        assert shown_mistakes(at) == expected
    assert any(c.value.startswith(f"{md(report.classes[2])} recognised: ") for c in at.caption)


@pytest.mark.slow
def test_report_in_chinese(trained_run):
    run = trained_run("shapes")
    at = open_report("zh")
    shown = metrics(at)
    assert shown["测试准确率"] == f"{100 * run.summary()['test_accuracy']:.1f} %"
    assert shown["随机猜测水平（1 / 10 个类别）"] == "10 %"
    assert "同一数据上此前最好的训练记录" not in shown  # the only run has no earlier one
    assert at.caption[0].value == "第 4 章 · 训练分类器"
    assert any("教程的 54 % 是在 CIFAR-10 上得到的" in c.value for c in at.caption)
    assert any(c.value.startswith("**精确率** (precision)") for c in at.caption)
    assert [s.value for s in at.subheader] == ["错在哪里"]
    assert [s.label for s in at.selectbox][-2:] == ["真实类别", "被预测为"]
    # class names stay as they are
    assert at.selectbox(key="rp_true").value == run.summary()["classes"][0]


@pytest.mark.browser
def test_clicking_a_confusion_cell_shows_that_pairs_images(page, app_server, copy_trained):
    run = copy_trained(app_server["runs_dir"], "clicked")  # the newest: the one the Report opens with
    report, _ds = evaluate_run(run)
    # the off-diagonal cell with the most images, and the pair the page shows before any click
    default = (report.classes[0], report.taken_for(report.classes[0])[0][0])
    count, t, p = max(
        (int(report.confusion[t, p]), t, p)
        for t in range(len(report.classes))
        for p in range(len(report.classes))
        if t != p and (report.classes[t], report.classes[p]) != default
    )
    true, predicted = report.classes[t], report.classes[p]
    page.goto(f"{app_server['url']}/report?lang=en")
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer"))
    chart.wait_for(timeout=120_000)
    # Streamlit draws the figure first and then again with selection clicks on: a click before is lost
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => gd._fullLayout
            && gd.querySelector('.heatmaplayer') && gd._fullLayout.clickmode === 'event+select')""",
        timeout=30_000,
    )
    cell = chart.evaluate(
        """(gd, [t, p]) => {
            const box = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            return [box.left + xa._offset + xa.l2p(p), box.top + ya._offset + ya.l2p(t)];
        }""",
        [t, p],
    )
    page.mouse.click(*cell)
    expect(page.get_by_text(f"{true} mistaken for {predicted}: {count} test images")).to_be_visible(
        timeout=30_000
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def live_accuracy(run_id: str) -> str:
    """The live view's "Test accuracy" reading for a run (the Train page with ?run=)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/train.py")
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    return metrics(at)["Test accuracy"]


@pytest.mark.slow
def test_the_report_and_the_live_view_read_one_number(runs_dir):
    """Issue 21: a fast-cpu run read 74.4 % live and 74.3 % on the Report (evaluated in float32, the loop in
    bf16); the Report now evaluates as the loop did, so both pages show the same accuracy, per class too."""
    from dataclasses import asdict

    from core.config import make_config
    from core.runs import RunStore
    from core.trainer import train

    cfg = make_config("fast-cpu", data="synthetic", epochs=0.1, batch_size=256, device="cpu", seed=0)
    run = RunStore(runs_dir).create(asdict(cfg), name="bf16")
    train(cfg, run)
    at = open_report("en")
    assert metrics(at)["Test accuracy"] == live_accuracy(run.id)
    assert not any("While training" in c.value for c in at.caption)
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)
    per_class = run.summary()["per_class_accuracy"]  # what the live view's epoch events carry
    assert bars["data"][0]["y"] == pytest.approx([100 * per_class[c] for c in bars["data"][0]["x"]])


def test_a_difference_that_remains_is_explained_where_both_are_shown(trained_run):
    """Newer weights (saved at a pause mid-epoch) or another device: the Report names the live view's
    number beside its own, and why."""
    run = trained_run("moved")
    summary = run.summary()
    evaluated = f"{100 * summary['test_accuracy']:.1f} %"
    run.write_summary({**summary, "test_accuracy": summary["test_accuracy"] - 0.012, "device": "cuda:0"})
    recorded = f"{100 * (summary['test_accuracy'] - 0.012):.1f} %"
    at = open_report("en")
    assert metrics(at)["Test accuracy"] == evaluated
    (note,) = [c.value for c in at.caption if "While training" in c.value]
    assert f"While training on cuda:0, this run measured {recorded}" in note and evaluated in note
    run.append({"type": "checkpoint", "epoch": 2, "step": 7})  # saved at a pause, after the last test
    at = open_report("zh")
    assert any("暂停或停止" in c.value and recorded in c.value and evaluated in c.value for c in at.caption)
