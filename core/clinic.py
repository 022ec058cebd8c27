"""The fix-the-bug clinic (chapter 4): broken copies of the tutorial's training loop, each a real, short run.

Every case is the correct program with one change. The engine runs the case's code exactly as shown, on
a slice of the demo data, and records what a learner would look at: the loss of each step, the size of
the gradients, or torch's own error. The learner names the bug from one list of diagnoses; the answer
shows the diff against the correct loop and why the symptom follows from the bug.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch

from .data import make_synthetic, to_model_input
from .exercises import Exercise, Feedback, Option, pick_option
from .messages import N_, Phrase
from .models import Net
from .walkthrough import Cell, run_cells

SLICE = 960  # training images of the demo data each case trains on
BATCH = 16
EPOCHS = 4  # 240 steps: about a second on 2 CPU cores
SEED = 0

_SETUP = f"""import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

{inspect.getsource(Net).strip()}


torch.manual_seed({SEED})
net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.03, momentum=0.9)"""

_LOOP = f"""for epoch in range({EPOCHS}):
    for i, (inputs, labels) in enumerate(trainloader):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())"""

# One list of diagnoses for every case: the learner names the bug, not the case's title.
DIAGNOSES = (
    Option(
        "a", N_("the gradients are never zeroed, so they pile up"), N_("`optimizer.zero_grad()` is missing.")
    ),
    Option(
        "b", N_("softmax is applied before CrossEntropyLoss"), N_("The loss gets probabilities, not scores.")
    ),
    Option(
        "c", N_("fc1's in_features does not match what arrives"), N_("The flattened size and fc1 disagree.")
    ),
    Option("d", N_("the learning rate is far too large"), N_("Each step overshoots.")),
    Option("e", N_("the weights are never updated"), N_("`optimizer.step()` is missing.")),
)


@dataclass(frozen=True)
class Case:
    """One broken program: the correct setup and loop with `edits` (old line → new line) applied."""

    number: int
    diagnosis: str  # the key of the right option in DIAGNOSES
    edits: tuple[tuple[str, str], ...]
    why: str  # N_: how the bug causes the symptom
    hint: str  # N_: where to look, for this case

    def code(self) -> tuple[str, str]:
        setup, loop = _SETUP, _LOOP
        for old, new in self.edits:
            if old in setup:
                setup = setup.replace(old, new)
            else:
                assert old in loop, old
                loop = loop.replace(old, new)
        return setup, loop

    def diff(self) -> str:
        """The broken program against the correct one, as `diff -u` prints it."""
        broken = "\n\n".join(self.code()).splitlines()
        correct = f"{_SETUP}\n\n{_LOOP}".splitlines()
        return "\n".join(difflib.unified_diff(broken, correct, "broken.py", "correct.py", lineterm="", n=1))


CASES = (
    Case(
        1,
        "a",
        (("        optimizer.zero_grad()\n", ""),),
        N_(
            "Without `optimizer.zero_grad()`, `backward()` adds each step's gradient to all the earlier "
            "ones, so every step is larger than the last (look at the gradient norm): the loss falls for a "
            "moment, then climbs far above where it started."
        ),
        N_("The gradient norm keeps growing from step to step. What clears the gradients between two steps?"),
    ),
    Case(
        2,
        "b",
        (("criterion(outputs, labels)", "criterion(F.softmax(outputs, dim=1), labels)"),),
        N_(
            "CrossEntropyLoss applies log-softmax itself. Given probabilities (all between 0 and 1) instead "
            "of scores, it can barely tell classes apart: the loss stays near ln 10 ≈ 2.30 and the gradients "
            "are tiny. Pass the raw outputs."
        ),
        N_("The gradients are ten times smaller than the correct loop's. What does the loss receive?"),
    ),
    Case(
        3,
        "c",
        (("nn.Linear(16 * 5 * 5, 120)", "nn.Linear(16 * 6 * 6, 120)"),),
        N_(
            "After two 5×5 convolutions and two poolings a 32×32 image is 16 maps of 5×5: 400 numbers per "
            "image after flatten. fc1 was built for 16 × 6 × 6 = 576, so its weight cannot multiply the "
            "batch: torch stops at the first forward pass and names both shapes (batch × 400 and 576 × 120)."
        ),
        N_("Read torch's message: which layer was built for 576 inputs, and how many arrive?"),
    ),
    Case(
        4,
        "d",
        (("lr=0.03", "lr=3.0"),),
        N_(
            "A hundred times the learning rate: the first steps overshoot so far that the loss shoots up "
            "(off the chart), and the network never recovers: the loss "
            "stays above chance (ln 10 ≈ 2.30), far "
            "above the correct loop's. Lower the rate until the curve falls steadily."
        ),
        N_("The loss shoots up within the first steps. What sets the size of each step?"),
    ),
    Case(
        5,
        "e",
        (("        optimizer.step()\n", ""),),
        N_(
            "Gradients are computed (and zeroed) every step, but without `optimizer.step()` nothing uses "
            "them: the weights stay as initialised, so every epoch "
            "repeats the previous one's losses exactly, "
            "around 2.30."
        ),
        N_(
            "Compare the epochs: the loss of each epoch repeats the one "
            "before it exactly. Do the weights change?"
        ),
    ),
)


@dataclass(frozen=True)
class Symptoms:
    """What a run shows: the loss and gradient norm of each step, or the error that stopped it."""

    losses: tuple[float, ...]
    grad_norms: tuple[float, ...]
    error: str | None  # "RuntimeError: mat1 and mat2 shapes cannot be multiplied (…)"
    code: str


@functools.cache
def _trainloader() -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    ds = make_synthetic(SLICE, 0, seed=SEED)
    x = to_model_input(ds.train_x, 3)
    return tuple((x[i : i + BATCH], ds.train_y[i : i + BATCH]) for i in range(0, SLICE, BATCH))


def _watch_gradients(net: torch.nn.Module, norms: list[float]) -> None:
    """After each backward(), the norm of all of net's gradients: each parameter's hook adds its share."""
    params = [p for p in net.parameters() if p.requires_grad]
    squares: list[float] = []

    def add(p: torch.Tensor) -> None:
        squares.append(float(p.grad.pow(2).sum()))
        if len(squares) == len(params):
            norms.append(math.sqrt(sum(squares)))
            squares.clear()

    for p in params:
        p.register_post_accumulate_grad_hook(add)


def run_program(setup: str, loop: str) -> Symptoms:
    """Run our own program text (a case's or the correct one) on the data slice, as it is shown."""
    namespace: dict[str, Any] = {"trainloader": _trainloader(), "losses": []}
    norms: list[float] = []
    error = None
    # a batch of 16 through this small network is too little work to share between threads: one thread
    # ran a case in 1.6 s where two took 17 s on a busy 2-core machine (threads waiting on each other)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_cells((Cell("setup", "", setup),), namespace)
        _watch_gradients(namespace["net"], norms)
        run_cells((Cell("loop", "", loop),), namespace)
    except RuntimeError as e:
        error = f"{type(e).__name__}: {e}"
    finally:
        torch.set_num_threads(threads)
    return Symptoms(tuple(namespace["losses"]), tuple(norms), error, f"{setup}\n\n{loop}")


@functools.cache
def correct_run() -> Symptoms:
    return run_program(_SETUP, _LOOP)


@functools.cache
def case_run(number: int) -> Symptoms:
    return run_program(*CASES[number - 1].code())


@dataclass(frozen=True)
class ClinicCheck:
    """Name the bug of case `number` from DIAGNOSES; the answer comes with the diff and the explanation."""

    number: int
    options: tuple[Option, ...] = DIAGNOSES
    kind: str = "clinic"

    @property
    def case(self) -> Case:
        return CASES[self.number - 1]

    @property
    def solution(self) -> str:
        return self.case.diagnosis

    def check(self, answer: str) -> Feedback:
        option = pick_option(self.options, answer)
        if option.key == self.case.diagnosis:
            return Feedback(True, Phrase(self.case.why), diff=self.case.diff())
        return Feedback(
            False,
            Phrase(
                N_(
                    "Not this one: “{diagnosis}” would show another symptom. "
                    "Compare with the correct loop again."
                ),
                diagnosis=Phrase(option.text),
            ),
        )


TITLES = (
    N_("Clinic case 1"),
    N_("Clinic case 2"),
    N_("Clinic case 3"),
    N_("Clinic case 4"),
    N_("Clinic case 5"),
)

CLINIC = tuple(
    Exercise(
        f"clinic-{case.number}",
        4,
        TITLES[case.number - 1],
        N_(
            "This training loop runs, but something is wrong. Look at its symptom (the loss, the gradient "
            "norm, or torch's error) beside the correct loop, then name the bug."
        ),
        (
            N_(
                "Compare the curves: does the loss fall at all, fall then "
                "climb, or stay flat? How large are the gradients?"
            ),
            case.hint,
        ),
        case.why,
        ClinicCheck(case.number),
    )
    for case in CASES
)
