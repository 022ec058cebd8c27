"""References by data kind: the tutorial's 54 % only for CIFAR-10, chance and the best earlier run always."""

import pytest

from core.data import SYNTHETIC_CLASSES
from core.reference import (
    CIFAR10_CLASSES,
    TUTORIAL_ACCURACY,
    TUTORIAL_CLASSES,
    RunResult,
    is_cifar10,
    references,
    run_result,
)
from core.runs import RunStore

SHAPES = tuple(SYNTHETIC_CLASSES)


def result(run_id: str, data: str, classes=SHAPES, accuracy: float | None = 0.5, created: float = 0.0):
    return RunResult(run_id, data, tuple(classes), accuracy, created)


@pytest.mark.parametrize(
    "data, classes, expected",
    [
        ("cifar10", CIFAR10_CLASSES, True),
        ("/photos/cifar-png", CIFAR10_CLASSES[::-1], True),  # an ImageFolder export, any order
        ("/photos/cifar-png", [c.upper() for c in TUTORIAL_CLASSES], True),  # the tutorial's names
        ("synthetic", SHAPES, False),
        ("/photos/pets", ("cat", "dog"), False),
        ("/photos/eleven", (*CIFAR10_CLASSES, "boat"), False),
        ("/photos/mixed", ("plane", *CIFAR10_CLASSES[1:]), False),  # one of each spelling is neither
    ],
)
def test_cifar10_is_the_source_or_a_folder_of_its_ten_classes(data, classes, expected):
    assert is_cifar10(data, classes) is expected


def test_the_tutorial_reference_appears_only_for_cifar10():
    assert references(result("a", "cifar10", CIFAR10_CLASSES), []).tutorial == TUTORIAL_ACCURACY
    shapes = references(result("a", "synthetic"), [])
    assert shapes.tutorial is None and shapes.chance == pytest.approx(0.1)
    assert references(result("a", "/photos/pets", ("cat", "dog")), []).chance == 0.5
    # a run that has not read its data yet: no chance line (it once drew one at 100 %, as if 1 class)
    assert references(result("a", "/photos/pets", ()), []).chance is None


def test_the_best_earlier_run_is_on_the_same_data_and_earlier():
    run = result("now", "synthetic", accuracy=0.7, created=100)
    others = [
        run,  # itself
        result("old-weak", "synthetic", accuracy=0.4, created=10),
        result("old-best", "synthetic", accuracy=0.8, created=20),
        result("later", "synthetic", accuracy=0.99, created=200),
        result("other-data", "cifar10", CIFAR10_CLASSES, accuracy=0.95, created=5),
        result("same-folder-other-classes", "synthetic", SHAPES[:5], accuracy=0.9, created=5),
        result("no-accuracy", "synthetic", accuracy=None, created=5),
    ]
    assert references(run, others).best_earlier.run_id == "old-best"
    assert references(result("first", "synthetic", created=1), others).best_earlier is None


def test_run_result_reads_a_runs_config_and_summary(tmp_path):
    store = RunStore(tmp_path)
    run = store.create({"data": "cifar10"})
    run.write_summary({**run.summary(), "classes": list(CIFAR10_CLASSES), "test_accuracy": 0.61})
    got = run_result(run)
    assert (got.run_id, got.data, got.classes, got.accuracy) == (run.id, "cifar10", CIFAR10_CLASSES, 0.61)
    assert got.created > 0
    fresh = run_result(store.create({}))  # no data, no accuracy yet
    assert (fresh.data, fresh.classes, fresh.accuracy) == ("", (), None)
