"""Training curves from run events: tables, TensorBoard-style smoothing, downsampling, progress and ETA."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .runs import EventLog, eta_seconds

STEP_COLUMNS = ["global_step", "epoch", "step", "loss", "lr", "images_per_s", "time"]
EPOCH_COLUMNS = ["epoch", "train_loss", "test_loss", "test_accuracy", "train_seconds"]


def steps_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([e for e in events if e.get("type") == "step"], columns=STEP_COLUMNS)


def epochs_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([e for e in events if e.get("type") == "epoch"], columns=EPOCH_COLUMNS)


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """TensorBoard's debiased exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    if weight <= 0 or values.empty:
        return values
    return values.ewm(alpha=1 - min(weight, 0.999), adjust=True).mean()


def downsample(frame: pd.DataFrame, max_points: int = 2000) -> pd.DataFrame:
    """At most `max_points` rows, each the mean of consecutive rows, so a 25,000-step curve stays light."""
    if len(frame) <= max_points:
        return frame
    bucket = math.ceil(len(frame) / max_points)
    return frame.groupby(frame.index // bucket).mean(numeric_only=True).reset_index(drop=True)


def curve_from_steps(steps: pd.DataFrame, weight: float = 0.6, max_points: int = 2000) -> pd.DataFrame:
    """global_step, raw loss, smoothed loss and lr from a frame of step events, smoothed before
    downsampling."""
    curve = steps[list(CURVE_COLUMNS)].copy()
    curve.insert(2, "smoothed", smooth(curve["loss"], weight))
    return downsample(curve, max_points)


def loss_curve(events: list[dict[str, Any]], weight: float = 0.6, max_points: int = 2000) -> pd.DataFrame:
    """global_step, raw loss and smoothed loss, smoothed before downsampling."""
    return curve_from_steps(steps_frame(events), weight, max_points)


CURVE_COLUMNS = ("global_step", "loss", "lr")


class StepTable:
    """A growing run's step events as columns, read incrementally: each update takes only the events added
    since the last, so a view that redraws every few seconds does not rebuild a frame from every event.

    Fed an `EventLog`'s list: the log extends that list in place, and replaces it when a `resume` cuts
    steps away, in which case the table starts over."""

    def __init__(self) -> None:
        self._start(None)

    def _start(self, events: list[dict[str, Any]] | None) -> None:
        self._events, self._seen = events, 0
        self._columns: dict[str, list[float]] = {c: [] for c in CURVE_COLUMNS}

    def update(self, events: list[dict[str, Any]]) -> pd.DataFrame:
        """The steps so far as a frame with CURVE_COLUMNS."""
        if events is not self._events or len(events) < self._seen:
            self._start(events)
        for e in events[self._seen :]:
            if e.get("type") == "step":
                for c, values in self._columns.items():
                    values.append(e[c])
        self._seen = len(events)
        return pd.DataFrame(self._columns, columns=list(CURVE_COLUMNS))


def progress(log: EventLog) -> dict[str, Any]:
    """Where a run is: epoch, step, fraction done, images/s and an ETA from the recent step rate.

    Read from the log's index of the newest events rather than by searching them: the same cost however
    long the run."""
    events, latest, restarted = log.events, log.latest, log.restarted
    start = latest.get("start", {})
    steps_per_epoch, epochs = start.get("steps_per_epoch", 0), start.get("epochs", 0)
    total = start.get("total_steps") or steps_per_epoch * epochs
    last, data = latest.get("step"), latest.get("data")
    out = {
        "epoch": 0,
        "epochs": epochs,
        "step": 0,
        "steps_per_epoch": steps_per_epoch,
        "fraction": 0.0,
        "images_per_s": 0.0,
        "eta_seconds": None,
        "loss": None,
        "data": data if data and not last and data["done"] < data["total"] else None,
    }
    if not last or not total:
        return out
    done = last["global_step"] + 1
    # a fractional run (--epochs 0.2, 2.5) counts the epochs it runs, the last one only partly: "epoch 1/1 ·
    # step 250/250", not "epoch 1/0.2 · step 250/1,250"
    if steps_per_epoch:
        out["epochs"] = math.ceil(total / steps_per_epoch)
        out["steps_per_epoch"] = min(steps_per_epoch, total - last["epoch"] * steps_per_epoch)
    out.update(
        epoch=last["epoch"] + 1,
        step=last["step"] + 1,
        fraction=min(done / total, 1.0),
        images_per_s=last.get("images_per_s", 0.0),
        loss=last["loss"],
    )
    # the rate since training last (re)started: a pause or a resume in the window would slow it down
    recent = [e for e in events[max(restarted, len(events) - 400) :] if e.get("type") == "step"]
    if len(recent) >= 2 and recent[-1]["time"] > recent[0]["time"]:
        rate = (recent[-1]["global_step"] - recent[0]["global_step"]) / (
            recent[-1]["time"] - recent[0]["time"]
        )
        out["eta_seconds"] = eta_seconds(done, total, rate)
    return out


def metrics_csv(events: list[dict[str, Any]]) -> str:
    """Every step with its loss and lr, and each epoch's test numbers on the epoch's last step."""
    steps = steps_frame(events).drop(columns=["time"])
    epochs = epochs_frame(events).rename(columns={"epoch": "epochs_done"})
    if not epochs.empty and not steps.empty:
        last_step = steps.groupby("epoch")["global_step"].max().reset_index()
        last_step["epochs_done"] = last_step["epoch"] + 1
        steps = steps.merge(
            last_step[["global_step", "epochs_done"]].merge(epochs, on="epochs_done"),
            on="global_step",
            how="left",
        )
    return steps.to_csv(index=False)
