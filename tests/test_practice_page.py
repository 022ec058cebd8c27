"""练习 in the app through AppTest: a chapter's exercises at the page's end (wrong answer with its message,
hints one at a time, the right answer, the solution), progress kept in the file and shown on Home's map,
a damaged progress file set aside with a notice, the clinic's cases run and diagnosed, and 中文."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.exercise_bank import for_chapter
from tests.apptest import open_page
from ui.safe import md


def _progress(runs_dir) -> dict:
    return json.loads((runs_dir.parent / "data" / "progress.json").read_text())["exercises"]


def _answer(at: AppTest, exercise_id: str, value: str) -> AppTest:
    at.text_input(key=f"practice_answer_{exercise_id}").set_value(value)
    at.button(key=f"practice_check_{exercise_id}").click().run()
    assert not at.exception
    return at


@pytest.mark.parametrize(
    "page, chapter",
    [("pages/tensors.py", 1), ("pages/autograd.py", 2), ("pages/neural_networks.py", 3), ("pages/gpu.py", 5)],
)
def test_each_chapter_ends_with_its_exercises(runs_dir, page, chapter):
    at = open_page(page)
    assert "Practice" in [h.value for h in at.header]
    total = len(for_chapter(chapter))
    assert f"Practice: 0 of {total} solved" in [c.value for c in at.caption]
    buttons = {b.key for b in at.button}
    assert {f"practice_check_{e.id}" for e in for_chapter(chapter)} <= buttons


def test_wrong_hint_right_then_a_reload_keeps_it_solved_and_home_counts_it(runs_dir):
    at = open_page("pages/neural_networks.py")
    _answer(at, "net-fc1-in", "1600")
    assert "1600 = 16 × 10 × 10 forgets the second max-pool, which halves 10 to 5." in [
        e.value for e in at.error
    ]
    assert _progress(runs_dir) == {"net-fc1-in": "tried"}

    at.button(key="practice_hint_button_net-fc1-in").click().run()
    hints = [i.value for i in at.info if i.value.startswith("Hint 1:")]
    assert hints and "4 pixels" in hints[0]
    assert not [i for i in at.info if i.value.startswith("Hint 2:")]  # one at a time

    _answer(at, "net-fc1-in", "400")
    assert "400 is right." in [s.value for s in at.success]
    assert _progress(runs_dir) == {"net-fc1-in": "solved"}

    reloaded = open_page("pages/neural_networks.py")
    assert any("green-badge[solved]" in m.value for m in reloaded.markdown if "fc1's in_features" in m.value)
    assert "Practice: 1 of 6 solved" in [c.value for c in reloaded.caption]
    home = open_page("pages/home.py")
    assert "Practice: 1 of 6 solved" in [c.value for c in home.caption]


def test_the_solution_explains_and_is_recorded_as_seen(runs_dir):
    at = open_page("pages/gpu.py")
    at.button(key="practice_solution_button_gpu-small-net").click().run()
    assert "**Solution:** `a`" in [m.value for m in at.markdown]
    assert any(m.value.startswith("Each step does so little work") for m in at.markdown)
    assert _progress(runs_dir) == {"gpu-small-net": "solution seen"}


def test_an_unreadable_answer_gets_a_sentence_not_a_traceback(runs_dir):
    at = _answer(open_page("pages/tensors.py"), "tensor-transpose", "__import__('os')")
    assert at.error and not at.exception
    at = _answer(at, "tensor-view", "two")
    # shown as typed (escaped markdown: `16*5*` must not turn into italics)
    assert [w.value for w in at.warning] == [
        md("'two' is not a number; type digits, e.g. 42 or 0.5, or arithmetic such as 16 * 5 * 5.")
    ]


def test_a_damaged_progress_file_is_set_aside_with_a_notice(runs_dir):
    path = runs_dir.parent / "data" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage")
    at = open_page("pages/gpu.py")
    assert any("could not be read" in w.value for w in at.warning)
    assert list(path.parent.glob("progress.json.damaged-*"))


def test_a_clinic_case_runs_and_its_diagnosis_shows_the_diff(runs_dir):
    at = open_page("pages/practice.py")
    assert "Fix-the-bug clinic" in [h.value for h in at.header]
    at.button(key="practice_run_clinic-3").click().run()
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied (16x400 and 576x120)" in [
        c.value for c in at.code
    ]
    at.radio(key="practice_answer_clinic-3").set_value("a")
    at.button(key="practice_check_clinic-3").click().run()
    assert at.error and _progress(runs_dir) == {"clinic-3": "tried"}
    at.radio(key="practice_answer_clinic-3").set_value("c")
    at.button(key="practice_check_clinic-3").click().run()
    assert any("+        self.fc1 = nn.Linear(16 * 5 * 5, 120)" in c.value for c in at.code)
    assert _progress(runs_dir) == {"clinic-3": "solved"}


def test_the_practice_reads_in_chinese(runs_dir):
    at = AppTest.from_file(str(open_page.__globals__["APP"]), default_timeout=60)
    at.query_params["lang"] = "zh"
    at.switch_page("pages/neural_networks.py").run()
    assert "练习" in [h.value for h in at.header]
    _answer(at, "net-fc1-in", "1600")
    assert at.error and any("\u4e00" <= ch <= "\u9fff" for ch in at.error[0].value)


def test_home_resets_the_progress(runs_dir):
    _answer(open_page("pages/neural_networks.py"), "net-fc1-in", "400")
    assert _progress(runs_dir) == {"net-fc1-in": "solved"}
    home = open_page("pages/home.py")
    assert "Practice: 1 of 6 solved" in [c.value for c in home.caption]
    home.button(key="practice_reset").click().run()
    assert not (runs_dir.parent / "data" / "progress.json").exists()
    assert "Practice: 0 of 6 solved" in [c.value for c in home.caption]
