"""练习 in real Chromium, in 中文: a learner answers wrongly, opens a hint, answers right, reloads the page:
the exercise stays solved, and Home's chapter map counts it."""

import json

import pytest
from playwright.sync_api import expect

from tests.appserver import wait_rendered

pytestmark = pytest.mark.browser


def _check(page, exercise_id: str, answer: str) -> None:
    field = page.locator(f".st-key-practice_answer_{exercise_id} input")
    field.fill(answer)
    field.press("Enter")
    page.locator(f".st-key-practice_check_{exercise_id} button").click()


def test_a_chinese_learner_solves_an_exercise_and_it_stays_solved(page, app_server):
    url = app_server["url"]
    page.goto(f"{url}/neural_networks?lang=zh")
    wait_rendered(page)
    card = page.locator(".st-key-practice_answer_net-fc1-in").locator(
        "xpath=ancestor::div[@data-testid='stVerticalBlock'][1]"
    )
    expect(page.get_by_role("heading", name="练习")).to_be_visible()

    _check(page, "net-fc1-in", "1600")
    alert = card.locator('[data-testid="stAlertContentError"]')
    expect(alert).to_contain_text("1600")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in alert.inner_text())  # the checker speaks 中文

    page.locator(".st-key-practice_hint_button_net-fc1-in button").click()
    expect(card.locator('[data-testid="stAlertContentInfo"]').first).to_contain_text("提示 1")

    _check(page, "net-fc1-in", "400")
    expect(card.locator('[data-testid="stAlertContentSuccess"]')).to_contain_text("400")
    progress = json.loads((app_server["data_dir"] / "progress.json").read_text())
    assert progress["exercises"]["net-fc1-in"] == "solved"

    page.reload()
    wait_rendered(page)
    expect(page.get_by_text("已解决").first).to_be_visible()
    page.goto(f"{url}/?lang=zh")
    wait_rendered(page)
    expect(page.locator('[data-testid="stMainBlockContainer"]')).to_contain_text("练习：已解决 1/6")
    page.screenshot(path=str(app_server["runs_dir"].parent / "practice_home_zh.png"), full_page=True)
