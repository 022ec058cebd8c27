"""End-to-end in real headless Chromium against `streamlit run app.py`."""

import re

import pytest
from playwright.sync_api import expect

from tests.appserver import ROOT, nav_links, wait_rendered

pytestmark = pytest.mark.browser


def test_every_page_in_the_navigation_renders_without_an_exception(page, app_server):
    links = nav_links(page, app_server["url"])
    # one link per file in pages/: no page is left out of the sidebar (nor the sidebar itself)
    assert len(links) == len(set(links)) == len(list((ROOT / "pages").glob("*.py"))), links
    for href in links:
        page.goto(href)
        wait_rendered(page)
        assert page.locator('[data-testid="stException"]').count() == 0, href
    page.goto(app_server["url"])
    wait_rendered(page)
    expect(page.locator('[data-testid="stMainBlockContainer"]')).to_contain_text(
        re.compile(r"torch \d+\.\d+")
    )
    page.screenshot(path=str(app_server["runs_dir"].parent / "home.png"), full_page=True)


PLOTTED_STEPS = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    const xs = plot && plot.data && plot.data.length ? plot.data[0].x : [];
    return xs.length ? Math.max(...xs) : 0; }"""


def plotted_steps(page) -> float:
    """The last step the live loss chart shows (its first trace's largest x), 0 before any point."""
    return page.evaluate(PLOTTED_STEPS)


def wait_for_more_steps(page, than: float) -> None:
    """The live chart gains points: it shows a later step than `than` within a few refreshes."""
    page.wait_for_function(f"() => ({PLOTTED_STEPS})() > {than}", timeout=30_000)


def test_train_watch_leave_come_back_and_stop(page, app_server):
    page.goto(f"{app_server['url']}/train")
    start = page.get_by_role("button", name="Start training")
    start.wait_for(timeout=60_000)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("40")
    epochs.press("Enter")
    expect(page.locator('[data-testid="stCode"]').filter(has_text="--epochs 40")).to_have_count(1)
    start.click()
    header = page.locator('[data-testid="stMarkdownContainer"] h4').first
    expect(header).to_contain_text("running", timeout=30_000)
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot');"
        " return p && p.data && p.data.length && p.data[0].x.length > 0; }",
        timeout=30_000,
    )
    wait_for_more_steps(page, plotted_steps(page))

    sidebar = page.get_by_test_id("stSidebarNavItems")
    sidebar.get_by_role("link", name="Home", exact=True).click()
    expect(page.locator("h1").first).to_contain_text("Blitz Lab")
    sidebar.get_by_role("link", name="Train", exact=True).click()
    expect(header).to_contain_text("running", timeout=30_000)  # still training after the round trip
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("40")  # the form kept what was typed
    wait_for_more_steps(page, plotted_steps(page))

    # the app's button: Streamlit's own status widget has a "Stop" too while a run lasts
    page.get_by_role("button", name="⏹ Stop").click()
    expect(header).to_contain_text("stopped", timeout=15_000)
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=\"stDataFrame\"]');"
        " return t && t.innerHTML.includes('stopped'); }",
        timeout=15_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def test_tensor_playground_matmul(page, app_server):
    page.goto(f"{app_server['url']}/tensors")
    create = page.get_by_role("button", name="Create")
    create.wait_for(timeout=60_000)
    create.click()
    expect(page.get_by_text("a = torch.rand(2, 3, dtype=torch.float32)")).to_be_visible(timeout=15_000)
    page.get_by_text("a list", exact=True).click()
    values = page.get_by_label("Values (a list literal: read as data, never run)")
    values.fill("[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]")
    values.press("Enter")
    # the app has the new values once the input stops asking for Enter
    expect(page.get_by_text("Press Enter to apply")).to_be_hidden()
    create.click()
    expect(page.get_by_text("b = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])")).to_be_visible(
        timeout=15_000
    )
    expression = page.get_by_role("textbox", name="Expression")
    expression.fill("a @ b")
    expression.press("Enter")
    expect(page.get_by_text("result = a @ b")).to_be_visible(timeout=15_000)
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(p =>
        p.data && p.data.length && p.data[0].type === 'heatmap' && p.data[0].z.length === 2
        && p.data[0].z[0].length === 2)""",
        timeout=15_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def test_autograd_backward_shows_gradients(page, app_server):
    page.goto(f"{app_server['url']}/autograd")
    expression = page.get_by_role("textbox", name="Expression")
    expression.wait_for(timeout=60_000)
    expression.fill("(w * x ** 3).sum()")
    expression.press("Enter")
    expect(page.get_by_text("out = (w * x ** 3).sum()")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="backward()").click()
    graph = page.locator('[data-testid="stGraphVizChart"] svg')
    expect(graph).to_contain_text("grad [8, 8, 8]", timeout=15_000)  # d/dw = x ** 3 = 8 at x = 2
    expect(graph).to_contain_text("grad 6")  # d/dx = 3 x ** 2 · sum(w) = 12 · 0.5
    expect(page.locator('[data-testid="stDataFrame"]').filter(has_text="finite difference")).to_have_count(1)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_classify_a_drawing_and_an_upload(page, app_server, tmp_path, copy_trained):
    """Needs a trained run: the session's, copied into the app's runs folder."""
    import math

    from PIL import Image

    copy_trained(app_server["runs_dir"], "classify")
    page.goto(f"{app_server['url']}/classify")
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + 60, cy)
    page.mouse.down()
    for angle in range(0, 370, 10):
        page.mouse.move(cx + 60 * math.cos(math.radians(angle)), cy + 60 * math.sin(math.radians(angle)))
    page.mouse.up()
    expect(page.get_by_text("what the model sees (32×32)")).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(p => p.data && p.data.length &&"
        " p.data[0].type === 'bar' && p.data[0].x.length === 5)",
        timeout=15_000,
    )

    picture = tmp_path / "square.png"
    image = Image.new("RGB", (64, 64), (240, 240, 240))
    image.paste((30, 30, 200), (16, 16, 48, 48))
    image.save(picture)
    (tmp_path / "notes.png").write_bytes(b"not really a png")
    page.get_by_role("tab", name="Upload").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        [str(picture), str(tmp_path / "notes.png")]
    )
    expect(page.get_by_text("square.png")).to_be_visible(timeout=30_000)
    expect(
        page.get_by_text("notes.png cannot be read: it is not an image in a supported format")
    ).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".filter(p => p.data && p.data.length && p.data[0].type === 'bar').length >= 2",
        timeout=15_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0
