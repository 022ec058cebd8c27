"""The tutorial's console: the lines its training loop prints, rebuilt from a run's events.

The tutorial prints `[epoch, batch] loss: x.xxx` every 2,000 mini-batches of 4 (their mean loss), then
`Finished Training`, the test accuracy and one line per class. A run logs a step event a few times a second
with the mean loss since the previous one, so a line's loss is the mean of the events in its window, each
weighted by the steps it covers (an event that straddles a window's edge is split). At other batch sizes a
line comes every ~8,000 images, the tutorial's spacing, and a header line says so. An epoch shorter than
that gets one line at its end. The exported script (core/recipe_code.py) prints with the same formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .catalogs import translations
from .messages import N_

TUTORIAL_BATCH_SIZE = 4
IMAGES_PER_LINE = 8000  # the tutorial: a line every 2,000 mini-batches of 4 images
# The tutorial's printed lines; its Chinese edition prints them in Chinese, and so does the app in 中文.
LOSS_LINE = N_("[{epoch}, {batch:5d}] loss: {loss:.3f}")
FINISHED = N_("Finished Training")
ACCURACY_LINE = N_("Accuracy of the network on the {images} test images: {percent} %")
ACCURACY_LINE_UNKNOWN = N_("Accuracy of the network on the test images: {percent} %")
CLASS_LINE = N_("Accuracy for class: {name:5s} is {percent:.1f} %")
HEADER = N_(
    "# loss: the mean over every {n} mini-batches of {batch} ({images} images); the tutorial prints every "
    "{tutorial} mini-batches of {tutorial_batch}"
)
# the start event's dataset text, as core.data.Dataset.describe() writes it: "... / 10,000 test images, ..."
_TEST_IMAGES = re.compile(r"/ ([\d,]+) test images")


def print_every(batch_size: int) -> int:
    """Mini-batches between two loss lines: 2,000 at batch 4, ~8,000 images' worth at any batch size."""
    return max(1, round(IMAGES_PER_LINE / batch_size))


def header(batch_size: int, lang: str = "en") -> str | None:
    """The comment line that says how often the loss is printed, when that is not the tutorial's."""
    if batch_size == TUTORIAL_BATCH_SIZE:
        return None
    n = print_every(batch_size)
    return (
        translations(lang)
        .gettext(HEADER)
        .format(
            n=f"{n:,}",
            batch=batch_size,
            images=f"{n * batch_size:,}",
            tutorial=f"{print_every(TUTORIAL_BATCH_SIZE):,}",
            tutorial_batch=TUTORIAL_BATCH_SIZE,
        )
    )


def accuracy_percent(accuracy: float) -> int:
    """The tutorial's `100 * correct // total` from a 0-1 accuracy (a float32 ratio may sit just below)."""
    return int(100 * accuracy + 1e-4)


class Console:
    """Turns a run's events, in order, into console lines (in `lang`); `add` returns the lines each event
    completes."""

    def __init__(self, batch_size: int, lang: str = "en"):
        self.text = translations(lang).gettext
        self.every = print_every(batch_size)
        self.header = header(batch_size, lang)
        self.test_images: int | None = None
        self.last_epoch: dict[str, Any] | None = None  # the latest epoch event: its test results
        self._at(0, -1)

    def _at(self, epoch: int, last_step: int) -> None:
        """Start counting at `epoch`, after step `last_step` (-1: from its start), with an empty window."""
        self.epoch, self.last_step = epoch, last_step
        self.sum, self.steps = 0.0, 0
        self.printed = last_step + 1 >= self.every  # a line was due in this epoch before that point

    def add(self, ev: dict[str, Any]) -> list[str]:
        lines = [self.header] if self.header else []
        self.header = None  # said once, before anything else
        kind = ev.get("type")
        if kind == "start":
            found = _TEST_IMAGES.search(str(ev.get("dataset", "")))
            self.test_images = int(found.group(1).replace(",", "")) if found else None
        elif kind == "resume":
            if ev["epoch"] == self.epoch and ev["step"] - 1 >= self.last_step:
                # the steps between the last log and the stop were trained, their loss not logged
                lines += self._cover(ev["step"] - 1, None)
            else:  # not where the last session stopped (a crash rewinds to the last checkpoint)
                self._at(ev["epoch"], ev["step"] - 1)
        elif kind == "step":
            if ev["epoch"] != self.epoch:
                self._at(ev["epoch"], -1)
            lines += self._cover(ev["step"], ev["loss"])
        elif kind == "epoch":
            if not self.printed and self.steps:  # an epoch shorter than a window: one line at its end
                lines.append(self._line(self.last_step + 1))
            self.last_epoch = ev
            self._at(ev["epoch"], -1)
        elif kind == "end" and ev.get("status") == "completed":
            lines += self._results()
        return lines

    def _cover(self, step: int, loss: float | None) -> list[str]:
        """Count the steps up to `step` at the event's mean `loss` (None: steps without a logged loss),
        closing every window they complete."""
        lines = []
        while self.last_step < step:
            window_end = ((self.last_step + 1) // self.every + 1) * self.every - 1  # its window's last step
            covered = min(step, window_end) - self.last_step
            if loss is not None:
                self.sum += loss * covered
                self.steps += covered
            self.last_step += covered
            if self.last_step == window_end:
                self.printed = True
                if self.steps:
                    lines.append(self._line(window_end + 1))
        return lines

    def _line(self, batch: int) -> str:
        line = self.text(LOSS_LINE).format(
            epoch=self.epoch + 1, batch=batch, loss=self.sum / max(self.steps, 1)
        )
        self.sum, self.steps = 0.0, 0
        return line

    def _results(self) -> list[str]:
        lines = [self.text(FINISHED)]
        ev = self.last_epoch
        if ev is None or not isinstance(ev.get("test_accuracy"), (int, float)):
            return lines
        known = self.test_images is not None  # a resumed run's events may not say how many
        template = self.text(ACCURACY_LINE if known else ACCURACY_LINE_UNKNOWN)
        lines.append(template.format(images=self.test_images, percent=accuracy_percent(ev["test_accuracy"])))
        per_class = ev.get("per_class_accuracy")
        for name, accuracy in per_class.items() if isinstance(per_class, dict) else ():
            if isinstance(accuracy, (int, float)):
                lines.append(self.text(CLASS_LINE).format(name=str(name), percent=100 * accuracy))
        return lines


def console_lines(events: Iterable[dict[str, Any]], batch_size: int, lang: str = "en") -> list[str]:
    """The tutorial's console for a run so far (none before its first event): a header when the batch size
    is not 4, a loss line per window, then, once the run completed, `Finished Training` and the test
    accuracy overall and per class."""
    console = Console(batch_size, lang)
    lines = []
    for ev in events:
        lines += console.add(ev)
    return lines
