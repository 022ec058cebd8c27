"""What a training run leaves in its folder while it runs: the summary, the event stream, checkpoints.

Only rank 0 writes (under torchrun every rank holds a Recorder; the others keep their summary in memory),
except that the first rank to fail says why in the summary, so a DDP failure names its cause.

Reasons and refusals are stored twice: as English text (`reason`, for the command line and older readers)
and as a message id plus values (`reason_message`, core.messages.to_json), which a page shows in the
learner's language. A full disk must not leave a run without its reason: the recorder keeps a little space
reserved in the run folder (RESERVE), freed to write the last summary; should even that fail, the reason
goes to train.log as one `blitzlab-end` line, which `Run.summary` reads back.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from .distributed import Rank
from .evaluation import Report
from .files import DiskFull, atomic_torch_save
from .messages import N_, MessageError, Phrase, stored_message, to_json
from .runs import END_MARK, Run, claim

Event = dict[str, Any]
DATA_EVENT_SECONDS = 0.25  # data-loading progress events at most this often
RESERVE = ".reserve"  # RESERVE_BYTES kept in the run folder, freed to write the run's end on a full disk
RESERVE_BYTES = 256 * 1024

# Every reason the trainer, the recorder and the app's job control write into a summary or an event by
# themselves (core.data, core.devices, core.cifar, core.runs and core.optim add their own MessageErrors):
# tests/test_failures.py checks that each has its 中文.
STOPPED = N_("stopped by the user; resume continues from the saved checkpoint")
DIVERGED = N_(
    "the loss became {loss} at epoch {epoch}, step {step}: training diverged. Lower the learning rate "
    "(now {lr}), e.g. to {lower}{warmup}."
)
WARMUP = N_(", or add a schedule with warm-up (onecycle)")
OUT_OF_MEMORY = N_("the GPU ran out of memory; lower the batch size (now {batch}).")
UNEXPECTED = N_("an unexpected error stopped training: {error} (its traceback is in {log})")
RANK_FAILED = N_("process {rank}: {reason}")
EXITED = N_("the training process exited with code {code}: {tail}")
BATCH_TOO_LARGE = N_("batch size {batch} is larger than the {size} training images.")
BATCH_TOO_SMALL = N_("batch size {batch} is smaller than the {processes} processes sharing it.")
REASONS = (STOPPED, DIVERGED, WARMUP, OUT_OF_MEMORY, UNEXPECTED, RANK_FAILED, EXITED, BATCH_TOO_LARGE,
           BATCH_TOO_SMALL)  # fmt: skip

Reason = MessageError | Phrase | str


def reason_fields(reason: Reason, key: str = "reason") -> dict[str, Any]:
    """`reason` as a summary or an event stores it: English text and, for a message, its id and values."""
    if not reason:
        return {key: "", f"{key}_message": None}
    return {key: str(reason), f"{key}_message": to_json(reason)}


class Recorder:
    def __init__(self, run: Run, rank: Rank, on_event: Callable[[Event], None] | None = None):
        self.run, self.rank, self.on_event = run, rank, on_event
        self.summary: dict[str, Any] = run.summary() if rank.main else {}
        self.summary.update(status="running", **claim())
        if rank.distributed:
            self.summary["processes"] = rank.world
        self._last_data_event = 0.0
        if rank.main:
            self._reserve()

    def _reserve(self) -> None:
        """Keep RESERVE_BYTES of the disk for the run's last summary (none when there is no room)."""
        path = self.run.path / RESERVE
        try:
            if not path.exists() or path.stat().st_size < RESERVE_BYTES:
                with open(path, "wb") as f:
                    f.write(bytes(RESERVE_BYTES))
                    f.flush()
        except OSError:
            path.unlink(missing_ok=True)

    def _release(self) -> None:
        (self.run.path / RESERVE).unlink(missing_ok=True)

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
            reasons = outcome["refused"]
            text = " ".join(map(str, reasons))
            stored = [to_json(r) for r in reasons]
            self.emit({"type": "hyperparameters", "refused": text, "refused_message": stored, **where})
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

    def finish(self, status: str, reason: Reason, train_seconds: float) -> dict[str, Any]:
        """The run's last word: its status and why, in the summary and as an `end` event. On a full disk the
        reserved space is freed for it; failing that, the reason goes to train.log (see the module's doc)."""
        rank = self.rank
        if (
            rank.distributed
            and rank.main
            and status == "failed"
            and (disk := self.run.summary())["status"] == status
        ):
            reason = stored_message(disk, "reason") or reason  # the rank that failed first said why
        ended = {"finished": time.time(), "train_seconds": round(train_seconds, 3)}
        self.summary.update(status=status, **reason_fields(reason), **ended)
        if rank.main:
            self._release()
            try:
                self.run.write_summary(self.summary)
            except OSError:  # even the reserve did not make room: the log the job already has open says it
                self._log_end()
            try:
                self.emit({"type": "end", "status": status, **reason_fields(reason)})
            except (DiskFull, OSError):
                pass
            self.run.close()
        elif status == "failed":  # the first rank to fail says why, if it shares rank 0's file system
            try:
                if (disk := self.run.summary())["status"] != "failed":
                    ranked = Phrase(RANK_FAILED, rank=rank.rank, reason=reason)
                    self.run.write_summary({**disk, "status": "failed", **reason_fields(ranked)})
            except OSError:
                pass
        return self.summary

    def _log_end(self) -> None:
        """The end line `Run.summary` reads back from train.log when summary.json could not be written."""
        keys = ("status", "reason", "reason_message", "pid")
        line = END_MARK + json.dumps({k: self.summary.get(k) for k in keys}) + "\n"
        try:
            with open(self.run.log_path, "a") as log:
                log.write(line)
        except OSError:
            sys.stderr.write(line)  # the app points the job's stderr at train.log too
