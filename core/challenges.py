"""Chapter 4's challenge board: goals judged from a finished run, a local leaderboard of the learner's runs.

A challenge reads a run's summary and config (its test accuracy on its test split, training seconds,
parameters, the machine it trained on): `score` gives the number the board ranks by, or None when the run
does not take part. Only runs on CIFAR-10's official test split count for a challenge; the board still lists
the others (demo shapes, folders) as practice, so a first run on the demo data shows up too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import cli_command, from_dict
from .messages import N_
from .runs import Run

TUTORIAL_ACCURACY = 0.54
SMALL = 100_000  # parameters
SMALL_ACCURACY = 0.60
TIME_LIMIT = 60.0  # seconds of training

Scored = Callable[[dict[str, Any]], float | None]


@dataclass(frozen=True)
class Challenge:
    id: str
    title: str  # N_
    rule: str  # N_: what counts and what wins
    score: Scored  # from the run's summary; None: the run does not take part
    higher_wins: bool
    unit: str  # how the score reads: "seconds" or "accuracy"


def _accuracy(s: dict[str, Any]) -> float:
    value = s.get("test_accuracy")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _seconds(s: dict[str, Any]) -> float | None:
    value = s.get("train_seconds")
    return float(value) if isinstance(value, (int, float)) else None


def _params(s: dict[str, Any]) -> int | None:
    value = s.get("parameters")
    return value if isinstance(value, int) else None


def _fastest_54(s: dict[str, Any]) -> float | None:
    return _seconds(s) if _accuracy(s) >= TUTORIAL_ACCURACY else None


def _small_60(s: dict[str, Any]) -> float | None:
    params = _params(s)
    return _accuracy(s) if params is not None and params <= SMALL and _accuracy(s) >= SMALL_ACCURACY else None


def _best_in_60s(s: dict[str, Any]) -> float | None:
    seconds = _seconds(s)
    return _accuracy(s) if seconds is not None and seconds <= TIME_LIMIT else None


CHALLENGES = (
    Challenge(
        "fastest-54",
        N_("The tutorial's 54 %, fastest"),
        N_("Reach 54 % test accuracy; the shortest training time wins."),
        _fastest_54,
        False,
        "seconds",
    ),
    Challenge(
        "small-60",
        N_("60 % with at most 100,000 parameters"),
        N_("Reach 60 % with a network of at most 100,000 parameters; the best accuracy wins."),
        _small_60,
        True,
        "accuracy",
    ),
    Challenge(
        "best-in-60s",
        N_("The best accuracy in 60 s"),
        N_("Train for at most 60 seconds; the best test accuracy wins."),
        _best_in_60s,
        True,
        "accuracy",
    ),
)


@dataclass(frozen=True)
class Entry:
    run: str
    score: float
    accuracy: float
    seconds: float | None
    parameters: int | None
    machine: str
    official: bool  # trained and tested on CIFAR-10's official split: counts for the challenge
    command: str  # the run's recipe, as the command line that trains it


def _command(config: dict[str, Any]) -> str:
    try:
        return cli_command(from_dict(config))
    except (TypeError, ValueError):  # a damaged config.json: no command to offer
        return ""


def board(runs: list[Run], challenge: Challenge) -> list[Entry]:
    """The finished runs that take part in `challenge`, official ones first, best first."""
    entries = []
    for run in runs:
        summary = run.summary()
        if summary.get("status") != "completed" or (score := challenge.score(summary)) is None:
            continue
        config = run.config()
        entries.append(
            Entry(
                run.id,
                score,
                _accuracy(summary),
                _seconds(summary),
                _params(summary),
                str(summary.get("machine") or summary.get("device") or "?"),
                config.get("data") == "cifar10",
                _command(config),
            )
        )
    sign = -1 if challenge.higher_wins else 1
    return sorted(entries, key=lambda e: (not e.official, sign * e.score))
