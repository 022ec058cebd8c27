"""Every page in 中文, in real Chromium: it renders without an exception, and its visible text outside code
has no untranslated English sentence (identifiers, class names and units may stay English)."""

import re

import pytest
from playwright.sync_api import expect

from tests.appserver import nav_links, wait_rendered

pytestmark = pytest.mark.browser

# Three or more English words in a row read as a sentence a learner would need translated.
SENTENCE = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,'’-]+[A-Za-z][a-z]+){2,}\b")
# What may stay English inside Chinese text: names from code and the tools, and the tutorial's own printouts.
ALLOWED = re.compile(
    r"(?i)\b(?:torch|numpy|cuda|mps|cpu|gpu|blitz lab|pytorch|cifar|imagefolder|nesterov|adam|adamw|sgd|"
    r"relu|lenet|resnet|airbench|softmax|backward|forward|grad_fn|requires_grad|zero_grad|state_dict)\b"
)
# Visible text, minus code blocks, inline code, tables of data and charts (their own tests cover them).
VISIBLE_TEXT = """() => {
    const root = document.querySelector('[data-testid="stMain"]').cloneNode(true);
    root.querySelectorAll('pre, code, [data-testid="stCode"], [data-testid="stDataFrame"], .js-plotly-plot,'
        + ' [data-testid="stTable"], [data-testid="stJson"], textarea, input').forEach(e => e.remove());
    return root.innerText; }"""


def english_sentences(text: str) -> list[str]:
    return [m for m in SENTENCE.findall(text) if len(ALLOWED.sub("", m).split()) >= 3]


def test_the_sentence_scan_catches_english_and_allows_identifiers():
    assert english_sentences("训练损失 The loss went down nicely 。") == ["The loss went down nicely"]
    assert english_sentences("用 torch cuda is_available 检查") == []
    assert english_sentences("张量 (tensor) 的形状 shape") == []


def test_every_page_in_chinese_has_no_exception_and_no_english_sentence(page, app_server):
    links = nav_links(page, f"{app_server['url']}/?lang=zh")
    assert links
    problems = {}
    for href in links:
        page.goto(href + ("&" if "?" in href else "?") + "lang=zh")
        wait_rendered(page)
        assert page.locator('[data-testid="stException"]').count() == 0, href
        found = english_sentences(page.evaluate(VISIBLE_TEXT))
        if found:
            problems[href] = found[:5]
    assert not problems, problems


def _switch_language(page, to: str, heading: str) -> None:
    """Click the sidebar's language switch and wait until the page has rerun in that language."""
    page.locator('[data-testid="stSidebar"]').get_by_text(to, exact=True).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
    wait_rendered(page)


def test_a_language_switch_keeps_the_learners_choices_and_expression(page, app_server):
    """Streamlit knows a selectbox's or radio's choice by its shown label; after a switch the old label is
    in no option. The learner's choices and typed expression must come through a round trip unchanged."""
    url = app_server["url"]
    # Tensors: an expression typed with the Examples box on "(type your own)"
    page.goto(f"{url}/tensors?lang=zh")
    page.get_by_role("button", name="创建").click(timeout=60_000)
    expression = page.get_by_role("textbox", name="表达式")
    expression.fill("a * 2")
    expression.press("Enter")
    expect(page.get_by_text("result = a * 2")).to_be_visible(timeout=15_000)
    _switch_language(page, "English", "3 · Operate")
    expect(page.get_by_role("textbox", name="Expression")).to_have_value("a * 2")
    _switch_language(page, "中文", "3 · 运算")
    expect(page.get_by_role("textbox", name="表达式")).to_have_value("a * 2")
    expect(page.get_by_text("result = a * 2")).to_be_visible()
    # Train: CIFAR-10 chosen in the data radio
    page.goto(f"{url}/train?lang=zh")
    page.get_by_text("CIFAR-10（").first.click(timeout=60_000)
    command = page.locator("code").filter(has_text="python -m core.train")
    expect(command).to_contain_text("--data cifar10", timeout=15_000)
    _switch_language(page, "English", "4 · Device")
    _switch_language(page, "中文", "4 · 设备")
    expect(command).to_contain_text("--data cifar10")
    assert page.locator('[data-testid="stException"]').count() == 0
