"""End-to-end in real headless Chromium against `streamlit run app.py`."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def wait_rendered(page):
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def nav_links(page, url):
    """Every page's address; Streamlit shows no sidebar navigation while the app has a single page."""
    page.goto(url)
    wait_rendered(page)
    links = [a.get_attribute("href") for a in page.locator('[data-testid="stSidebarNav"] a').all()]
    return links or [url]


def test_every_page_in_the_navigation_renders_without_an_exception(page, app_server):
    links = nav_links(page, app_server["url"])
    assert links, "the sidebar navigation lists no pages"
    for href in links:
        page.goto(href)
        wait_rendered(page)
        assert page.locator('[data-testid="stException"]').count() == 0, href
    page.goto(app_server["url"])
    wait_rendered(page)
    expect(page.locator('[data-testid="stMainBlockContainer"]')).to_contain_text(re.compile(r"torch \d+\.\d+"))
    page.screenshot(path=str(app_server["runs_dir"].parent / "home.png"), full_page=True)
