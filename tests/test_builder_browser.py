"""Build your own network in real Chromium, in 中文: start from the tutorial's LeNet, break fc1 and read the
message, fix it, train the built network for one epoch on the demo shapes, and find the run on chapter 4's
challenge board."""

import re

import pytest
from playwright.sync_api import expect

from tests.appserver import wait_rendered

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_build_break_fix_train_and_see_it_on_the_board(page, app_server):
    page.goto(f"{app_server['url']}/neural_networks?lang=zh")
    wait_rendered(page)
    layers = page.locator(".st-key-builder_text_lenet textarea")
    expect(layers).to_have_value(re.compile(r"^Conv2d\(1, 6, 5\)"), timeout=60_000)
    text = layers.input_value()
    assert text.splitlines()[0] == "Conv2d(1, 6, 5)"

    # break fc1: the message names the layer, what arrives and what fits, in 中文
    layers.fill(text.replace("Linear(400, 120)", "Linear(576, 120)"))
    layers.press("Control+Enter")
    alert = page.locator('[data-testid="stAlertContentError"]').filter(has_text="fc1")
    expect(alert).to_contain_text("16 个通道 × 5 × 5 = 400")
    layers.fill(text)
    layers.press("Control+Enter")
    expect(alert).to_have_count(0)

    # the same session's Train page offers it as the custom model
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="训练", exact=True).click()
    start = page.get_by_role("button", name="开始训练")
    start.wait_for(timeout=60_000)
    model = page.locator(".st-key-f_model input")
    model.click()
    model.fill("custom")
    model.press("Enter")
    expect(page.locator(".st-key-f_layers textarea")).to_have_value(text)
    for key, value in (("f_epochs", "1"), ("f_batch_size", "32")):
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
    command = page.locator('[data-testid="stCode"]').filter(has_text="--model custom")
    typed = command.filter(has_text="--batch-size 32").filter(has_text=re.compile(r"--epochs 1\b"))
    expect(typed).to_have_count(1)
    start.click()
    header = page.locator('[data-testid="stMarkdownContainer"] h4').first
    expect(header).to_contain_text("已完成", timeout=240_000)
    run_id = header.locator("code").inner_text()

    # chapter 4's challenge board lists it (as practice: the demo shapes are not CIFAR-10)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="练习", exact=True).click()
    expect(page.get_by_role("heading", name="挑战榜")).to_be_visible(timeout=60_000)
    board = page.locator('[data-testid="stDataFrame"]').filter(has_text=run_id)
    expect(board.first).to_be_visible(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
