"""Every code block a page shows runs as shown (issue 21), in both languages, and what it computes or
prints is what the page shows beside it. Chapter 3's cells are tested with core.walkthrough.run_cells
(tests/test_walkthrough.py); the recipe's script by tests/test_recipe_code.py and tests/test_export.py."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.exercise_bank import EXERCISES
from core.models import build_model
from tests.apptest import APP

LANGUAGES = ["en", "zh"]


def open_in(page: str, lang: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = lang
    at.switch_page(page).run()
    assert not at.exception
    return at


def practice_blocks() -> set[str]:
    """The code the exercises at a chapter's end show (tested on their own, below)."""
    return {e.check.setup_code() for e in EXERCISES if hasattr(e.check, "setup_code")}


def python_blocks(at: AppTest) -> list[str]:
    """The page's own code blocks, in order (not its exercises', nor the output blocks beside them)."""
    exercises = practice_blocks()
    return [c.value for c in at.code if c.language == "python" and c.value not in exercises]


def run(code: str, namespace: dict) -> str:
    """`code` run as a learner would paste it into Python (statements in order), and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<shown code>", "exec"), namespace)
    return out.getvalue()


def chapter_context() -> dict:
    """What the pages' snippets take from the chapters before them, as the tutorial defines it: `net`, a
    `trainloader` of (images, labels) batches, and one batch `data`."""
    batch = (torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,)))
    return {"torch": torch, "np": np, "net": build_model("tutorial"), "trainloader": [batch], "data": batch}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_tensors_code_runs_and_prints_what_the_page_shows(runs_dir, lang):
    at = open_in("pages/tensors.py", lang)
    at.radio(key="t_source").set_value("a list").run()
    at.text_input(key="t_literal").input("[[1.0, 2.0], [3.0, 4.0]]").run()
    at.button(key="t_create").click().run()  # a
    at.text_input(key="t_literal").input("[[0.5, -1.0], [2.0, 0.25]]").run()
    at.button(key="t_create").click().run()  # b: its creation code is the one shown
    for text in [
        "a @ b.T",
        "torch.cat([a, b], dim=0)",
        "a.mean(dim=1)",
        "a.t().is_contiguous()",
        "a.add_(1)",
    ]:
        # the tensor created before the code shown last, as the page holds it before this expression
        namespace = {"torch": torch, "np": np, "a": at.session_state["tensors"]["a"].clone()}
        at.text_input(key="t_expr").input(text).run()
        assert not at.exception
        shown = [c.value for c in at.code]
        blocks = python_blocks(at)
        assert f"result = {text}" in blocks
        i = blocks.index(f"result = {text}")
        for code in blocks[: i + 1]:  # creation, inspection, the expression
            run(code, namespace)
        # what Python prints for `result` is the block right after `result = …`
        assert shown[shown.index(f"result = {text}") + 1] == repr(namespace["result"]), text
        assert repr(at.session_state["tensors"]["a"]) == repr(namespace["a"]), text
        for code in blocks[i + 1 :]:  # * versus @, the numpy bridge's lines
            run(code, namespace)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_numpy_made_tensor_code_runs(runs_dir, lang):
    at = open_in("pages/tensors.py", lang)
    at.radio(key="t_source").set_value("a numpy array").run()
    at.button(key="t_create").click().run()
    namespace = {"torch": torch}
    blocks = python_blocks(at)
    bridge = next(b for b in blocks if b.startswith("a_np = a.numpy()"))
    for code in blocks[: blocks.index(bridge)]:
        run(code, namespace)
    shown = [c.value for c in at.code if c.value.startswith("array(")]
    assert shown == [repr(namespace["a_np"])]
    before = namespace["a_np"].copy()
    run(bridge, namespace)  # a.add_(1), then a_np += 1: both change the one block of memory
    assert (namespace["a_np"] == before + 2).all() and (namespace["a"].numpy() == before + 2).all()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    "expression, times, gradient", [("(w * x ** 2 + b).sum()", 3, False), ("w * x", 2, True)]
)
def test_autograd_code_runs_and_gives_the_gradients_the_page_shows(
    runs_dir, lang, expression, times, gradient
):
    at = open_in("pages/autograd.py", lang)
    at.text_input(key="ag_expr").input(expression).run()
    if gradient:
        at.toggle(key="ag_use_grad").set_value(True).run()
    at.number_input(key="ag_times").set_value(times).run()
    at.button(key="ag_backward").click().run()
    assert not at.exception
    blocks = python_blocks(at)
    namespace = {"torch": torch}
    assert len(blocks) == 3  # the leaves and backward(), no_grad and detach, gradient descent
    run(blocks[0], namespace)
    table = next(df.value for df in at.dataframe if ".grad" in df.value.columns)
    grads = [g for name in ("x", "w") for g in namespace[name].grad.flatten().tolist()]
    assert grads == pytest.approx(list(table[".grad"]), rel=1e-5)
    assert namespace["b"].grad is None  # requires_grad=False: no gradient, as the page shows none
    run(blocks[1], namespace)
    modes = next(df.value for df in at.dataframe if "is_leaf" in df.value.columns)
    for name, row in zip("yzd", modes.to_dict("records")):
        assert namespace[name].requires_grad == row["requires_grad"]
        assert namespace[name].is_leaf == row["is_leaf"]
        fn = namespace[name].grad_fn
        assert (type(fn).__name__ if fn is not None else "None") == row["grad_fn"]
    run(blocks[2], namespace)  # gradient descent on the surface chosen (x, y = xy: names of its own)
    assert namespace["xy"].grad is not None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_gpu_device_lines_run_and_print_the_device(runs_dir, lang):
    at = open_in("pages/gpu.py", lang)
    namespace = chapter_context()
    blocks = python_blocks(at)
    assert blocks
    printed = "".join(run(code, namespace) for code in blocks)
    assert printed.splitlines()[0] == ("cuda:0" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_train_forms_device_code_runs(runs_dir, lang):
    at = open_in("pages/train.py", lang)
    namespace = chapter_context()
    # the device picker's lines (the recipe's whole program is tests/test_recipe_code.py's and test_export's)
    blocks = [b for b in python_blocks(at) if b.startswith("device = torch.device(") and b.count("\n") < 6]
    assert blocks
    for code in blocks:
        run(code, namespace)
    assert namespace["inputs"].device == next(namespace["net"].parameters()).device


@pytest.mark.parametrize(
    "exercise", [e for e in EXERCISES if hasattr(e.check, "setup_code")], ids=lambda e: e.id
)
def test_every_exercises_setup_code_runs(exercise):
    namespace = {"torch": torch}
    run(exercise.check.setup_code(), namespace)


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.kind == "predict"], ids=lambda e: e.id)
def test_a_predict_exercises_cells_print_in_python_what_the_page_shows(exercise):
    """What "Run it and check" shows beside each cell (ui/practice.py) is what the cell prints in Python."""
    _happened, ran = exercise.check.run()
    namespace: dict = {}
    for code, shown in ran:
        assert run(code, namespace) == shown, code


@pytest.mark.parametrize("lang", LANGUAGES)
def test_homes_and_trains_command_lines_parse(runs_dir, lang):
    """The terminal lines Home and the Train form show are `python -m core.train` command lines that its
    own parser accepts (the comments after # in the page's language)."""
    import shlex

    from core.config import parser

    home = AppTest.from_file(APP, default_timeout=60)
    home.query_params["lang"] = lang
    lines = []
    for at in (home.run(), open_in("pages/train.py", lang)):
        lines += [
            line.split("#")[0]
            for c in at.code
            if c.language == "bash"
            for line in c.value.splitlines()
            if "core.train" in line
        ]
    assert len(lines) >= 3
    for line in lines:
        words = shlex.split(line)
        parser().parse_args(words[words.index("core.train") + 1 :])
