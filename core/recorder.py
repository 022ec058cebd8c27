"""What a training run leaves in its folder while it runs: the summary, the event stream, checkpoints.

Only rank 0 writes (under torchrun every rank holds a Recorder; the others keep their summary in memory),
except that the first rank to fail says why in the summary, so a DDP failure names its cause.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from .distributed import Rank
from .evaluation import Report
from .files import atomic_torch_save
from .runs import Run, claim

Event = dict[str, Any]
DATA_EVENT_SECONDS = 0.25  # data-loading progress events at most this often


class Recorder:
    def __init__(self, run: Run, rank: Rank, on_event: Callable[[Event], None] | None = None):
        self.run, self.rank, self.on_event = run, rank, on_event
        self.summary: dict[str, Any] = run.summary() if rank.main else {}
        self.summary.update(status="running", **claim())
        if rank.distributed:
            self.summary["processes"] = rank.world
        self._last_data_event = 0.0

    def save(self, **values: Any) -> None:
        """Update the summary and write it (rank 0)."""
        self.summary.update(values)
        if self.rank.main:
            self.run.write_summary(self.summary)

    def emit(self, ev: Event) -> None:
        """One event: appended to metrics.jsonl with its time, and handed to the callback (rank 0)."""
        if not self.rank.main:
            return
        ev["time"] = time.time()
        self.run.append(ev)
        if self.on_event:
            self.on_event(ev)

    def status(self, status: str) -> Callable[[], None]:
        """A callback that records a status change (paused / running) in the summary and as an event."""

        def record() -> None:
            self.save(status=status)
            self.emit({"type": status})

        return record

    def data_progress(self, stage: str, done: int, total: int) -> None:
        """Loading / decoding progress, a few events a second at most."""
        if done >= total or time.monotonic() - self._last_data_event > DATA_EVENT_SECONDS:
            self._last_data_event = time.monotonic()
            self.emit({"type": "data", "stage": stage, "done": done, "total": total})

    def step(
        self, epoch: int, step: int, global_step: int, loss: float, lr: float, images_per_s: float
    ) -> None:
        """A step event: the mean loss since the last one, the learning rate, the current speed."""
        ev = {"epoch": epoch, "step": step, "global_step": global_step, "loss": loss, "lr": lr}
        self.emit({"type": "step", **ev, "images_per_s": round(images_per_s, 1)})

    def epoch(
        self,
        epochs_completed: int,
        report: Report,
        train_loss: float,
        train_seconds: float,
        images_per_s: float,
        sample_idx: torch.Tensor,
        sample_true: list[int],
    ) -> None:
        """An epoch's numbers: the summary's headline and an event with the test results and the gallery."""
        per_class = report.per_class_accuracy()
        self.save(
            test_accuracy=report.accuracy,
            per_class_accuracy=per_class,
            epochs_completed=epochs_completed,
            best_accuracy=max(report.accuracy, self.summary.get("best_accuracy", 0.0)),
            train_seconds=round(train_seconds, 3),
            images_per_s=round(images_per_s, 1),
        )
        predicted = report.predictions[sample_idx].tolist()
        samples = {"index": sample_idx.tolist(), "true": sample_true, "predicted": predicted}
        results = {
            "test_loss": report.loss,
            "test_accuracy": report.accuracy,
            "per_class_accuracy": per_class,
        }
        self.emit(
            {
                "type": "epoch",
                "epoch": epochs_completed,
                "train_loss": train_loss,
                **results,
                "train_seconds": train_seconds,
                "samples": samples,
            }
        )

    def checkpoint(self, state: Callable[[], dict[str, Any]], epoch: int, step: int) -> None:
        """checkpoint.pt to resume from and the bare model.pth. `state()` gives the trainer's parts (model,
        optimizer, scheduler, classes, hyperparameters); only rank 0, which writes, asks for it."""
        if self.rank.main:
            parts = state()
            weights = {k: v.detach().cpu().contiguous() for k, v in parts.pop("model").items()}
            checkpoint = {"model": weights, **parts, "epoch": epoch, "step": step}
            atomic_torch_save(checkpoint, self.run.checkpoint_path)
            atomic_torch_save(weights, self.run.model_path)
        self.emit({"type": "checkpoint", "epoch": epoch, "step": step})

    def retuned(self, outcome: dict[str, Any], epoch: int, step: int, global_step: int) -> bool:
        """A `set` command's outcome as an event (and the summary's values in force); True if applied."""
        if not outcome:
            return False
        where = {"epoch": epoch, "step": step, "global_step": global_step}
        if "refused" in outcome:
            self.emit({"type": "hyperparameters", "refused": outcome["refused"], **where})
            return False
        self.save(hyperparameters=outcome["changed"])
        self.emit({"type": "hyperparameters", **outcome["changed"], **where})
        return True

    def samples(self, images: torch.Tensor, labels: list[int], classes: list[str]) -> None:
        """samples.pt: the fixed test images whose predictions each epoch event carries (written once)."""
        if self.rank.main and not self.run.samples_path.exists():
            samples = {"images": images.cpu(), "labels": labels, "classes": classes}
            atomic_torch_save(samples, self.run.samples_path)

    def log_traceback(self, error: BaseException) -> None:
        """An unexpected error's traceback, into train.log: the summary's reason stays one line."""
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        try:
            with open(self.run.log_path, "a") as log:
                log.write(f"rank {self.rank.rank}: {text}" if self.rank.distributed else text)
        except OSError:
            pass

    def finish(self, status: str, reason: str, train_seconds: float) -> dict[str, Any]:
        """The run's last word: its status and why, in the summary and as an `end` event."""
        rank = self.rank
        if (
            rank.distributed
            and rank.main
            and status == "failed"
            and (disk := self.run.summary())["status"] == status
        ):
            reason = disk.get("reason") or reason  # the rank that failed first said why
        self.summary.update(
            status=status, reason=reason, finished=time.time(), train_seconds=round(train_seconds, 3)
        )
        if rank.main:
            self.run.write_summary(self.summary)
            self.emit({"type": "end", "status": status, "reason": reason})
            self.run.close()
        elif status == "failed":  # the first rank to fail says why, if it shares rank 0's file system
            try:
                if (disk := self.run.summary())["status"] != "failed":
                    self.run.write_summary(
                        {**disk, "status": "failed", "reason": f"rank {rank.rank}: {reason}"}
                    )
            except OSError:
                pass
        return self.summary
