"""A learner's progress through the exercises: one small JSON file under the app's data directory.

Each exercise is not tried, tried, solved, or "solution seen" (opened the solution before solving it).
Solving wins: a solved exercise stays solved whatever comes after. One local profile, no account. A file
that cannot be read is set aside (renamed, never deleted) and progress starts again, with a notice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from .files import atomic_write_json
from .messages import N_, Phrase
from .paths import data_dir

FILE = "progress.json"
STATES = ("not tried", "tried", "solution seen", "solved")  # each may only move right, "solved" last
MAX_BYTES = 1_000_000  # a progress file is a few kB; anything larger is not ours


def progress_path() -> Path:
    return data_dir() / FILE


class Progress:
    """The states of every exercise, read from and written to `path` at once (atomically)."""

    def __init__(self, path: Path | None = None):
        self.path = path or progress_path()
        self.notice: Phrase | None = None  # set when a damaged file was set aside
        self.states = self._load()

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            if self.path.stat().st_size > MAX_BYTES:
                raise ValueError("too large")
            data = json.loads(self.path.read_bytes())
            states = data["exercises"]
            if not isinstance(states, dict) or not all(
                isinstance(k, str) and v in STATES for k, v in states.items()
            ):
                raise ValueError("unexpected content")
            return states
        except (OSError, ValueError, KeyError, TypeError):
            aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path.replace(aside)
            self.notice = Phrase(
                N_("Your progress file could not be read; it was kept as {file} and progress starts again."),
                file=aside.name,
            )
            return {}

    def state(self, exercise_id: str) -> str:
        return self.states.get(exercise_id, "not tried")

    def record(self, exercise_id: str, state: str) -> None:
        """Move an exercise forward to `state` (never back: a solved one stays solved) and save."""
        if STATES.index(state) > STATES.index(self.state(exercise_id)):
            self.states[exercise_id] = state
            atomic_write_json({"version": 1, "exercises": self.states}, self.path)

    def counts(self, exercise_ids: Iterable[str]) -> dict[str, int]:
        """How many of `exercise_ids` are in each state."""
        counts = dict.fromkeys(STATES, 0)
        for exercise_id in exercise_ids:
            counts[self.state(exercise_id)] += 1
        return counts

    def reset(self) -> None:
        self.states = {}
        self.path.unlink(missing_ok=True)
