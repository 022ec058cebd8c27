"""Exercises that check themselves: the engine behind each chapter's 练习 and `python -m core.practice`.

An `Exercise` is a prompt, 2–3 hints from gentle to specific, a solution that explains why, and a checker.
The checker is the whole point: it says what differs ("shape (2, 3), expected (3, 2)"), not just "wrong".
What a learner types never reaches `exec`: expressions go through the safe evaluator (core.expr), numbers
and choices through small parsers, run ids through the run store. The code an exercise *shows and runs*
(a predict-then-run cell) is ours, run like chapter 3's cells (core.walkthrough.run_cells).

Messages are `Phrase`s (an N_ template and its values), so the app and the command line translate them.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .expr import ExprError, evaluate
from .messages import N_, MessageError, Phrase
from .paths import runs_dir
from .runs import Run, RunError, RunStore
from .walkthrough import Cell, run_cells

MAX_ANSWER = 300  # characters: any answer longer than this is refused before it is parsed
KINDS = ("expression", "number", "choice", "predict", "train", "clinic")


class AnswerError(MessageError):
    """An answer that cannot be read at all (empty, too long, not a number, no such choice, no such run)."""


@dataclass(frozen=True)
class Feedback:
    """What a check says: right or not, the sentence, and what the engine ran (code and what it printed)."""

    ok: bool
    message: Phrase
    ran: tuple[tuple[str, str], ...] = ()  # (code, printed output) of the cells the check ran
    diff: str = ""  # a clinic case's broken loop against the correct one


def _read(answer: str) -> str:
    text = answer.strip()
    if not text:
        raise AnswerError(N_("The answer is empty: type something first."))
    if len(text) > MAX_ANSWER:
        raise AnswerError(
            N_("The answer is {length:,} characters long; no answer here needs more than {limit}."),
            length=len(text),
            limit=MAX_ANSWER,
        )
    return text


# --- expression: a tensor the learner builds ----------------------------------------------------------


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def compare_tensors(got: Any, want: torch.Tensor) -> Phrase | None:
    """What differs between `got` and the target, first things first (kind, shape, dtype, device, values);
    None when they match."""
    if isinstance(got, np.ndarray):
        return Phrase(N_("That is a NumPy array; the answer should be a torch tensor."))
    if not isinstance(got, torch.Tensor):
        return Phrase(N_("That gives {value}, not a tensor."), value=repr(got)[:60])
    if got.shape != want.shape:
        return Phrase(N_("shape {got}, expected {want}"), got=_shape(got), want=_shape(want))
    if got.dtype != want.dtype:
        return Phrase(N_("dtype {got}, expected {want}"), got=_dtype(got), want=_dtype(want))
    if got.device != want.device:
        return Phrase(N_("device {got}, expected {want}"), got=str(got.device), want=str(want.device))
    close = torch.isclose(got.detach(), want.detach(), equal_nan=True)
    if not bool(close.all()):
        where = tuple(int(i) for i in torch.nonzero(~close)[0])
        return Phrase(
            N_("the values differ: at index {index} it holds {got}, expected {want}"),
            index=where,
            got=got[where].item(),
            want=want[where].item(),
        )
    return None


@dataclass(frozen=True)
class ExpressionCheck:
    """The learner types an expression over `names` (each made by a safe expression of its own) that must
    give the same tensor as `solution`."""

    names: tuple[tuple[str, str], ...]  # (name, expression that makes it), in order
    solution: str
    kind: str = "expression"
    once: str = ""  # a method the task says to call exactly once (`to`): `x.double()` gives the tensor too

    def setup_code(self) -> str:
        return "\n".join(f"{name} = {text}" for name, text in self.names)

    def _names(self) -> dict[str, Any]:
        made: dict[str, Any] = {}
        for name, text in self.names:
            made[name] = evaluate(text, made)
        return made

    def check(self, answer: str) -> Feedback:
        text = _read(answer)
        want = evaluate(self.solution, self._names())
        try:
            got = evaluate(text, self._names())
        except ExprError as e:
            return Feedback(False, Phrase(e.template, **e.values))
        problem = compare_tensors(got, want)
        if problem is not None:
            return Feedback(False, problem)
        if self.once and _calls(text, self.once) != 1:
            return Feedback(
                False,
                Phrase(
                    N_("The tensor is right, but the task asks for one call of `.{method}`."),
                    method=self.once,
                ),
            )
        return Feedback(True, Phrase(N_("That is the tensor asked for.")))


def _calls(text: str, method: str) -> int:
    """How many times `text` (an expression the evaluator accepted, so it parses) calls `.method(…)`."""
    return sum(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
        for node in ast.walk(ast.parse(text, mode="eval"))
    )


# --- number: one value, with the usual mistakes named -------------------------------------------------


def _number(text: str) -> float:
    """A number, or arithmetic on numbers (`16 * 5 * 5`, as a learner works it out), through the safe
    evaluator: never Python's own eval."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        value = evaluate(text, {})
    except ExprError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnswerError(
            N_("'{answer}' is not a number; type digits, e.g. 42 or 0.5, or arithmetic such as 16 * 5 * 5."),
            answer=text[:40],
        )
    return float(value)


@dataclass(frozen=True)
class NumberCheck:
    """A number within `tolerance` of `answer` (also accepted: `also`, e.g. 0.1 for 10 %). A known mistake
    gets its own sentence; any other value is told whether it is too large or too small."""

    answer: float
    mistakes: tuple[tuple[float, str], ...] = ()  # (value, N_ sentence saying where that value comes from)
    tolerance: float = 1e-6
    kind: str = "number"

    @property
    def solution(self) -> str:
        return f"{self.answer:g}"

    def check(self, answer: str) -> Feedback:
        text = _read(answer).rstrip("%").replace(",", "").replace("_", "").strip()
        value = _number(text)
        if not math.isfinite(value):
            raise AnswerError(N_("'{answer}' is not a finite number."), answer=text)
        if abs(value - self.answer) <= self.tolerance * max(1.0, abs(self.answer)):
            return Feedback(True, Phrase(N_("{value:g} is right."), value=self.answer))
        for mistake, sentence in self.mistakes:
            if abs(value - mistake) <= 1e-9 * max(1.0, abs(mistake)):
                return Feedback(False, Phrase(sentence))
        if value > self.answer:
            return Feedback(False, Phrase(N_("{value:g} is too large."), value=value))
        return Feedback(False, Phrase(N_("{value:g} is too small."), value=value))


# --- choice and predict-then-run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    key: str  # what the learner types: a, b, c …
    text: str  # N_; may hold `code`
    why: str  # N_: why this option is right, or where the idea behind it goes wrong


def pick_option(options: tuple[Option, ...], answer: str) -> Option:
    text = _read(answer).lower().rstrip(").").strip()
    for option in options:
        if option.key == text:
            return option
    raise AnswerError(
        N_("'{answer}' is not one of the options; answer with one of {keys}."),
        answer=text[:20],
        keys=", ".join(o.key for o in options),
    )


@dataclass(frozen=True)
class ChoiceCheck:
    options: tuple[Option, ...]
    solution: str  # the right option's key
    kind: str = "choice"

    def check(self, answer: str) -> Feedback:
        option = pick_option(self.options, answer)
        return Feedback(option.key == self.solution, Phrase(option.why))


@dataclass(frozen=True)
class PredictCheck:
    """The learner commits to one of `options`, then the engine runs `cells` (our code, shown as it runs)
    and `outcome` reads which option happened from the cells' namespace. `solution` is what we expect to
    happen; a test keeps it equal to what the run shows."""

    options: tuple[Option, ...]
    cells: tuple[Cell, ...]
    outcome: Callable[[dict[str, Any]], str]
    solution: str
    kind: str = "predict"

    def run(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """(the option that happened, each cell's code and output)."""
        return _run_cached(self)

    def check(self, answer: str) -> Feedback:
        predicted = pick_option(self.options, answer)
        happened, ran = self.run()
        actual = next(o for o in self.options if o.key == happened)
        if predicted.key == happened:
            return Feedback(True, Phrase(actual.why), ran)
        message = Phrase(
            N_("You predicted ({predicted}); the run shows ({actual}). {why}"),
            predicted=predicted.key,
            actual=actual.key,
            why=Phrase(actual.why),
        )
        return Feedback(False, message, ran)


@functools.cache
def _run_cached(check: PredictCheck) -> tuple[str, tuple[tuple[str, str], ...]]:
    # every cell seeds its own randomness, so one run per process is the run
    namespace: dict[str, Any] = {}
    outputs = run_cells(check.cells, namespace)
    return check.outcome(namespace), tuple((c.code, out) for c, out in zip(check.cells, outputs))


# --- train: the answer is a finished run --------------------------------------------------------------


@dataclass(frozen=True)
class TrainCheck:
    """The learner trains a run (Train page or command line) and answers with its id; `test` reads the run
    and says what is missing (None when the run does what was asked). `recipe` is a run that solves it."""

    test: Callable[[Run], Phrase | None]
    success: Callable[[Run], Phrase]  # what the run shows, said when it does what was asked
    recipe: tuple[tuple[str, Any], ...]  # make_config(**dict(recipe))
    kind: str = "train"

    @property
    def solution(self) -> str:
        return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in self.recipe)

    def check(self, answer: str) -> Feedback:
        run_id = _read(answer)
        try:
            run = RunStore(runs_dir()).open(run_id)
        except RunError as e:
            raise AnswerError(e.template, **e.values) from None
        problem = self.test(run)
        if problem is not None:
            return Feedback(False, problem)
        return Feedback(True, self.success(run))


Check = ExpressionCheck | NumberCheck | ChoiceCheck | PredictCheck | TrainCheck


@dataclass(frozen=True)
class Exercise:
    id: str  # stable: progress is kept under it
    chapter: int  # 1–5, the tutorial's chapters
    title: str  # N_
    prompt: str  # N_
    hints: tuple[str, ...]  # N_, gentle to specific
    why: str  # N_: the solution's explanation
    check: Check = field(repr=False)

    @property
    def kind(self) -> str:
        return self.check.kind

    @property
    def solution(self) -> str:
        """The answer as a learner would type it (a run's recipe as command-line flags for a train one)."""
        return self.check.solution

    def options(self) -> tuple[Option, ...]:
        return getattr(self.check, "options", ())
