"""The exercise engine on its own: every solution passes its checker, a wrong answer gets its specific
message, unreadable answers are refused in one sentence, progress survives and is set aside when damaged,
and `python -m core.practice` answers with the documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from core import practice
from core.exercise_bank import BY_ID, EXERCISES
from core.exercises import KINDS, MAX_ANSWER, AnswerError
from core.progress import Progress

ROOT = Path(__file__).resolve().parents[1]

# A wrong answer per exercise and a few words of what its checker must say back (not just "wrong").
WRONG = {
    "tensor-ones": ("torch.ones(2, 3)", "shape (2, 3), expected (3, 2)"),
    "tensor-transpose": ("a.view(3, 2)", "the values differ: at index (0, 1) it holds 1, expected 3"),
    "tensor-matmul": ("x * w", "cannot be broadcast"),
    "tensor-float": ("n", "dtype int64, expected float32"),
    "tensor-view": ("-1", "view replaces it"),
    "tensor-numpy-bridge": ("a", "shares memory"),
    "autograd-square": ("15", "is y itself"),
    "autograd-mean": ("18", "divides it by 4"),
    "autograd-accumulate": ("a", "the run shows (b)"),
    "autograd-no-grad": ("a", "nothing is recorded"),
    "autograd-vector": ("c", "vector-Jacobian"),
    "net-fc1-in": ("1600", "forgets the second max-pool"),
    "net-fc1-in-40": ("400", "right for 32×32"),
    "net-conv1-params": ("150", "also has a bias"),
    "net-bias-grad": ("b", "the run shows (a)"),
    "net-zero-grad": ("a", "the run shows (b)"),
    "net-softmax": ("b", "softmax twice"),
    "train-chance": ("0.1", "probability"),
    "train-normalize": ("0", "mean 0.5 is subtracted"),
    "train-iterations": ("12500", "number of mini-batches"),
    "train-num-workers": ("a", "main process"),
    "train-diverge": ("no-such-run", None),  # an unknown run id: refused (exit 2), see the CLI test
    "clinic-1": ("b", "would show another symptom"),
    "clinic-2": ("a", "would show another symptom"),
    "clinic-3": ("d", "would show another symptom"),
    "clinic-4": ("e", "would show another symptom"),
    "clinic-5": ("a", "would show another symptom"),
    "gpu-device": ("b", "is_available() is True"),
    "gpu-to-returns": ("b", "the run shows (a)"),
    "gpu-to-double": ("x.double().float()", "dtype float32, expected float64"),
    "gpu-same-device": ("a", "never moves data"),
    "gpu-small-net": ("b", "much faster"),
}


def test_every_chapter_has_at_least_four_exercises_each_with_two_hints():
    chapters = Counter(e.chapter for e in EXERCISES)
    assert sorted(chapters) == [1, 2, 3, 4, 5] and min(chapters.values()) >= 4, chapters
    assert len(EXERCISES) >= 20 and len(BY_ID) == len(EXERCISES)  # ids are unique
    assert all(len(e.hints) >= 2 and e.why for e in EXERCISES)
    assert {e.kind for e in EXERCISES} == set(KINDS)  # every kind of checker is used


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.kind != "train"], ids=lambda e: e.id)
def test_the_solution_passes_its_own_checker(exercise):
    feedback = exercise.check.check(exercise.solution)
    assert feedback.ok, feedback.message


@pytest.mark.parametrize("exercise_id", sorted(WRONG))
def test_a_wrong_answer_gets_the_specific_message(exercise_id):
    answer, said = WRONG[exercise_id]
    exercise = BY_ID[exercise_id]
    if said is None:
        with pytest.raises(AnswerError):
            exercise.check.check(answer)
        return
    feedback = exercise.check.check(answer)
    assert not feedback.ok
    assert said in str(feedback.message)


def test_every_exercise_has_a_wrong_answer_case():
    assert set(WRONG) == set(BY_ID)


def test_one_call_of_to_means_one_call_of_to():
    """The right float64 tensor by another road (`.double()`, or two `.to`s) is not what the task asks."""
    check = BY_ID["gpu-to-double"].check
    assert check.check("x.to(torch.double)").ok and check.check("x.to(dtype=torch.float64)").ok
    for answer in ("x.double()", "x.to('cpu').to(torch.float64)"):
        feedback = check.check(answer)
        assert not feedback.ok and "one call of `.to`" in str(feedback.message)


def test_a_number_may_be_typed_as_arithmetic_the_way_a_learner_works_it_out():
    assert BY_ID["net-fc1-in"].check.check("16 * 5 * 5").ok
    assert BY_ID["net-fc1-in"].check.check("16*6*6").message == BY_ID["net-fc1-in"].check.check("576").message
    with pytest.raises(AnswerError, match="16 \\* 5 \\* 5"):
        BY_ID["net-fc1-in"].check.check("16*5*")  # the refusal shows how arithmetic is typed


def test_predict_runs_show_the_code_that_ran_and_what_it_printed():
    feedback = BY_ID["autograd-accumulate"].check.check("b")
    code, printed = feedback.ran[-1]
    assert "y.backward()" in code
    assert printed.splitlines() == ["1 tensor(3.)", "2 tensor(6.)"]
    _code, printed = BY_ID["net-bias-grad"].check.check("a").ran[-1]
    assert printed == "None\n"


@pytest.mark.parametrize(
    "exercise_id, answer, said",
    [
        ("net-fc1-in", "four hundred", "is not a number"),
        ("net-fc1-in", "nan", "not a finite number"),
        ("net-fc1-in", "   ", "empty"),
        ("net-fc1-in", "9" * (MAX_ANSWER + 1), "characters long"),
        ("net-softmax", "z", "answer with one of a, b, c"),
        ("tensor-ones", "x" * (MAX_ANSWER + 1), "characters long"),
    ],
)
def test_an_unreadable_answer_is_refused_in_one_sentence(exercise_id, answer, said):
    with pytest.raises(AnswerError) as refused:
        BY_ID[exercise_id].check.check(answer)
    assert said in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "text", ["__import__('os').system('true')", "open('/etc/passwd')", "torch.ones(10**9, 10**9)", "a.t("]
)
def test_typed_expressions_go_through_the_safe_evaluator(text):
    # nothing runs outside the evaluator's allow-list: each is a plain "not right" with its reason
    feedback = BY_ID["tensor-transpose"].check.check(text)
    assert not feedback.ok and str(feedback.message)


def test_progress_moves_forward_only_and_survives_a_new_process(tmp_path):
    path = tmp_path / "progress.json"
    p = Progress(path)
    p.record("net-fc1-in", "tried")
    p.record("net-fc1-in", "solved")
    p.record("net-fc1-in", "solution seen")  # seeing the solution after solving keeps it solved
    p.record("net-softmax", "solution seen")
    p.record("net-softmax", "tried")  # a wrong answer after the solution does not undo "solution seen"
    again = Progress(path)
    assert again.state("net-fc1-in") == "solved"
    assert again.state("net-softmax") == "solution seen"
    assert again.state("tensor-ones") == "not tried"
    assert again.counts(["net-fc1-in", "net-softmax", "tensor-ones"]) == {
        "not tried": 1,
        "tried": 0,
        "solution seen": 1,
        "solved": 1,
    }
    again.reset()
    assert not path.exists() and Progress(path).state("net-fc1-in") == "not tried"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00", b"[]", b'{"exercises": {"a": "champion"}}', b'{"exercises": [1]}', b""],
)
def test_a_damaged_progress_file_is_set_aside_with_a_notice(tmp_path, content):
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    p = Progress(path)
    assert p.states == {} and p.notice is not None
    kept = list(tmp_path.glob("progress.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content and kept[0].name in str(p.notice)
    p.record("tensor-ones", "solved")
    assert json.loads(path.read_text())["exercises"] == {"tensor-ones": "solved"}


def _cli(*args: str, env_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m core.practice ARGS` in a fresh interpreter, as a learner types it."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if env_dir is not None:
        env["BLITZLAB_RUNS_DIR"] = str(env_dir)
    return subprocess.run(
        [sys.executable, "-m", "core.practice", *args], cwd=ROOT, capture_output=True, text=True, env=env
    )


@pytest.fixture
def in_process(capsys):
    """The same command line called in this process (`main`, and argparse's exit 2): what it printed and its
    exit code, without a second of interpreter start-up each time."""

    def run(*args: str) -> SimpleNamespace:
        try:
            code = practice.main(list(args))
        except SystemExit as e:
            code = e.code
        printed = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=printed.out, stderr=printed.err)

    return run


def _assert_lists_every_exercise(listed: SimpleNamespace | subprocess.CompletedProcess) -> None:
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == len(EXERCISES)
    ident, chapter, kind = lines[0].split()[:3]
    assert (ident, chapter, kind) == (EXERCISES[0].id, "1", EXERCISES[0].kind)


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.slow
def test_python_m_core_practice_lists_in_both_languages():
    """The command as a learner types it, in a fresh interpreter (the other tests call its `main`)."""
    _assert_lists_every_exercise(_cli("list"))
    chinese = _cli("--lang", "zh", "list")
    assert chinese.returncode == 0 and _has_chinese(chinese.stdout)


def test_the_command_line_lists_checks_and_exits_0_1_2(tmp_path, in_process, monkeypatch):
    _assert_lists_every_exercise(in_process("list"))
    right = in_process("check", "net-fc1-in", "400")
    assert right.returncode == 0 and "400 is right" in right.stdout
    wrong = in_process("check", "net-fc1-in", "1600")
    assert wrong.returncode == 1 and "second max-pool" in wrong.stdout
    for args in (("check", "no-such-id", "1"), ("check", "net-fc1-in", "abc"), ("check", "net-softmax", "q")):
        refused = in_process(*args)
        assert refused.returncode == 2 and len(refused.stdout.strip().splitlines()) == 1, refused
        assert "Traceback" not in refused.stdout + refused.stderr
    monkeypatch.setenv("BLITZLAB_RUNS_DIR", str(tmp_path / "runs"))
    unknown_run = in_process("check", "train-diverge", "nope")
    assert unknown_run.returncode == 2 and "Traceback" not in unknown_run.stderr

    solution = in_process("check", "clinic-3", "--solution")
    assert solution.returncode == 0
    assert "-        self.fc1 = nn.Linear(16 * 6 * 6, 120)" in solution.stdout


def test_the_command_line_speaks_chinese(in_process):
    listed = in_process("--lang", "zh", "list")
    assert listed.returncode == 0 and _has_chinese(listed.stdout)
    wrong = in_process("check", "net-fc1-in", "1600", "--lang", "zh")
    assert wrong.returncode == 1
    english = in_process("check", "net-fc1-in", "1600").stdout
    assert wrong.stdout != english and _has_chinese(wrong.stdout)


@pytest.mark.slow
def test_the_training_exercise_reads_a_real_run(tmp_path):
    # its own solution: the tutorial recipe at lr 10 diverges, and the checker reads that from the run
    solved = _cli("check", "train-diverge", "--solution", env_dir=tmp_path / "runs")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    # a run that does not diverge is told what is missing
    from dataclasses import asdict

    from core.config import make_config
    from core.runs import RunStore
    from core.trainer import train

    cfg = make_config(preset="tutorial", data="synthetic", epochs=0.02)
    run = RunStore(tmp_path / "runs").create(asdict(cfg), name="calm")
    train(cfg, run)
    calm = _cli("check", "train-diverge", run.id, env_dir=tmp_path / "runs")
    assert calm.returncode == 1 and "did not diverge (lr 0.001)" in calm.stdout
