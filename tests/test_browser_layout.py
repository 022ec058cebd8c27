"""Layout in real Chromium at the widths a learner uses (issue 21): a phone's 400 px and a laptop's 1024 px,
in 中文, whose labels are the widest."""

import pytest
from playwright.sync_api import expect

from tests.appserver import wait_rendered

pytestmark = pytest.mark.browser

# elements of `selector` whose text is cut (an ellipsis, or text wider than its box)
CUT = """(selector) => Array.from(document.querySelectorAll(selector))
    .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
    .map(e => e.innerText)"""


@pytest.fixture
def sized(browser):
    contexts = []

    def make(width: int, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# the labels (text and box) of the plotly chart that shows `text`, once it has any
ANNOTATIONS = """(text) => {
    const chart = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.textContent.includes(text));
    const notes = chart ? [...chart.querySelectorAll('.annotation')] : [];
    return notes.length ? notes.map(a => { const b = a.getBoundingClientRect();
        return {text: a.textContent, x: b.x, y: b.y, width: b.width, height: b.height}; }) : null; }"""


def test_homes_chapter_cards_stack_in_the_tutorials_order_at_400_px(sized, app_server):
    page = sized(400)
    page.goto(f"{app_server['url']}/?lang=zh")
    wait_rendered(page)
    headings = page.locator('[data-testid="stMain"] h4')
    expect(headings).to_have_count(5, timeout=30_000)
    tops = [(h.inner_text(), h.bounding_box()["y"]) for h in headings.all()]
    numbers = [text.split()[0] for text, _y in sorted(tops, key=lambda item: item[1])]
    assert numbers == ["1", "2", "3", "4", "5"], tops


def test_the_live_views_readings_and_reference_labels_fit_at_1024_px(sized, app_server, copy_trained):
    earlier = copy_trained(app_server["runs_dir"], "earlier")
    earlier.write_summary({**earlier.summary(), "test_accuracy": 0.12})  # 12 %: next to chance's 10 %
    run = copy_trained(app_server["runs_dir"], "layout")
    page = sized(1024)
    page.goto(f"{app_server['url']}/train?run={run.id}&lang=zh")
    wait_rendered(page)
    metric_labels = page.locator('[data-testid="stMetricLabel"]')
    # the last of the five readings drawn (the others come first, with the earlier runs read in between)
    expect(metric_labels.filter(has_text="训练时间")).to_have_count(1, timeout=30_000)
    labels = metric_labels.all_inner_texts()
    assert "平均吞吐量（图像/秒）" in labels and "训练时间" in labels
    assert page.evaluate(CUT, '[data-testid="stMetricLabel"] *') == []
    # the accuracy chart's labels: chance (10 %) and the best earlier run, none over another (read in one
    # go: a rerun can take the chart away between two reads)
    boxes = page.wait_for_function(ANNOTATIONS, arg="随机猜测水平", timeout=30_000).json_value()
    # both lines are named (lines closer than the label's height share one label)
    names = "".join(b["text"] for b in boxes)
    assert "随机猜测水平" in names and "此前最好的训练记录" in names, boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (a, b)
    page.screenshot(path=str(app_server["runs_dir"].parent / "live-1024-zh.png"), full_page=True)


def test_classifys_probabilities_end_at_100_and_their_labels_show_whole_at_1024_px(
    sized, app_server, copy_trained, tmp_path
):
    from PIL import Image

    copy_trained(app_server["runs_dir"], "classify-layout")
    picture = tmp_path / "square.png"
    image = Image.new("RGB", (64, 64), (240, 240, 240))
    image.paste((30, 30, 200), (16, 16, 48, 48))
    image.save(picture)
    page = sized(1024)
    page.goto(f"{app_server['url']}/classify?lang=zh")
    wait_rendered(page)
    page.get_by_role("tab", name="上传").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(picture))
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(p => p.data && p.data.length &&"
        " p.data[0].type === 'bar' && p.data[0].orientation === 'h')",
        timeout=60_000,
    )
    chart = page.locator(".js-plotly-plot").filter(has_text="概率")
    ticks = [tick.text_content() for tick in chart.first.locator(".xtick text").all()]  # SVG: no innerText
    assert ticks[-1] == "100"  # the axis ends at 100 %, not 120
    box = chart.first.bounding_box()
    for label in chart.first.locator(".bartext").all():  # each "NN.N %" inside the chart, whole
        b = label.bounding_box()
        assert b["x"] >= box["x"] and b["x"] + b["width"] <= box["x"] + box["width"], label.text_content()
