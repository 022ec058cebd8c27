"""What a run's test accuracy should be read against: chance, the tutorial's result, earlier runs.

The tutorial's Net reaches about 54 % on CIFAR-10; next to a run on other data (the demo shapes, a folder
of one's own photos) that number means nothing and makes a learner think they beat the tutorial. So it is
a reference only for CIFAR-10 data, decided here, once, for every page that shows references:

- the run's config `data` is "cifar10" (torchvision's CIFAR-10), or
- its classes are CIFAR-10's ten classes (an ImageFolder exported from CIFAR-10): the same ten names in
  any order and case, as torchvision spells them ("airplane", "automobile", …) or as the tutorial does
  ("plane", "car", …). A folder of one's own photos of those ten things counts too: it is the same task.

Every run gets chance (1 / number of classes) and, when there is one, the best earlier run on the same data
(the same `data` and the same classes) with its test accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .messages import N_, Phrase
from .runs import Run

TUTORIAL_ACCURACY = 0.54  # the tutorial's Net and recipe on CIFAR-10's test set
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TUTORIAL_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class RunResult:
    """What the references need of a run: its data, classes, test accuracy and when it was created."""

    run_id: str
    data: str
    classes: tuple[str, ...]
    accuracy: float | None
    created: float


@dataclass(frozen=True)
class References:
    chance: float | None  # 1 / classes; None before a run has read its data (no classes yet)
    tutorial: float | None  # the tutorial's accuracy, for CIFAR-10 runs only
    best_earlier: RunResult | None  # the most accurate earlier run on the same data


def is_cifar10(data: str, classes: Sequence[str]) -> bool:
    """Whether a run's data is CIFAR-10: the torchvision source, or a folder with CIFAR-10's ten classes."""
    if data == "cifar10":
        return True
    names = {c.lower() for c in classes}
    return len(classes) == 10 and names in (set(CIFAR10_CLASSES), set(TUTORIAL_CLASSES))


def references(run: RunResult, others: Iterable[RunResult]) -> References:
    """`run`'s references among `others` (any runs; the run itself and later ones are ignored)."""
    earlier = [
        o
        for o in others
        if o.run_id != run.run_id
        and o.created < run.created
        and o.accuracy is not None
        and (o.data, o.classes) == (run.data, run.classes)
    ]
    return References(
        chance=1 / len(run.classes) if run.classes else None,
        tutorial=TUTORIAL_ACCURACY if is_cifar10(run.data, run.classes) else None,
        best_earlier=max(earlier, key=lambda o: o.accuracy, default=None),
    )


def run_result(run: Run) -> RunResult:
    """A run's RunResult from its config and summary (missing values: no data, no accuracy, time 0)."""
    summary = run.summary()
    accuracy = summary.get("test_accuracy")
    return RunResult(
        run.id,
        str(run.config().get("data", "")),
        tuple(summary.get("classes") or ()),
        float(accuracy) if isinstance(accuracy, (int, float)) else None,
        float(summary.get("created") or 0.0),
    )


def references_for(run: Run, runs: Iterable[Run]) -> References:
    """`references` of a run among a runs folder's runs (what the Report and the live view both show)."""
    return references(run_result(run), [run_result(r) for r in runs])


def training_difference(run: Run, accuracy: float, here: str = "cpu") -> Phrase | None:
    """Why `accuracy`, the run's saved model evaluated again (the Report), differs from the test accuracy
    the run recorded while training (the live view, the runs table), or None when both read the same to one
    decimal. The Report evaluates as the loop did (core.evaluation.evaluate_run: same autocast, flip and
    memory format); what can remain is newer weights or another device."""
    summary = run.summary()
    recorded = summary.get("test_accuracy")
    if not isinstance(recorded, (int, float)) or f"{100 * recorded:.1f}" == f"{100 * accuracy:.1f}":
        return None
    values = dict(recorded=f"{100 * recorded:.1f} %", now=f"{100 * accuracy:.1f} %")
    events = run.events()
    last_test = max((i for i, e in enumerate(events) if e.get("type") == "epoch"), default=-1)
    if any(e.get("type") == "checkpoint" and e.get("step") for e in events[last_test + 1 :]):
        return Phrase(
            N_(
                "While training, this run measured {recorded} on its test images (what the live view shows). "
                "Its model was saved later, when it paused or stopped partway through an epoch, so this "
                "report evaluates those newer weights: {now}."
            ),
            **values,
        )
    device = str(summary.get("device") or "")
    if device and device.split(":")[0] != here:
        return Phrase(
            N_(
                "While training on {device}, this run measured {recorded} on its test images (what the live "
                "view shows); this report evaluates the same weights again on {here}: {now}. Another device "
                "adds up in another order, which moves a few test images near a decision boundary."
            ),
            device=device,
            here=here,
            **values,
        )
    return Phrase(
        N_(
            "While training, this run measured {recorded} on its test images (what the live view shows); "
            "evaluated again here, the same weights give {now}: sums in another order (threads, reduced "
            "precision) move a few test images near a decision boundary."
        ),
        **values,
    )
