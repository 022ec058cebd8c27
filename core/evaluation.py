"""How good is a model, overall and per class; top-k predictions; loading a run's checkpoint.

Its command line, `python -m core.evaluate RUN_ID`, is core/evaluate.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .data import TUTORIAL_MEAN, TUTORIAL_STD, Dataset, load_dataset, to_model_input
from .devices import autocast
from .messages import N_, MessageError
from .models import get_model_spec
from .paths import data_dir


class CheckpointError(MessageError):
    """A file that is not a state dict for the model it is meant for."""


@dataclass
class Report:
    classes: list[str]
    confusion: torch.Tensor  # K×K counts, rows = true class, columns = predicted
    loss: float
    predictions: torch.Tensor  # N predicted class indices, in test-set order
    confidence: torch.Tensor | None = None  # N softmax probabilities of those predictions

    @property
    def accuracy(self) -> float:
        return float(self.confusion.diag().sum() / self.confusion.sum().clamp(min=1))

    @property
    def support(self) -> torch.Tensor:
        return self.confusion.sum(1)

    @property
    def recall(self) -> torch.Tensor:  # = per-class accuracy
        return self.confusion.diag() / self.confusion.sum(1).clamp(min=1)

    @property
    def precision(self) -> torch.Tensor:
        return self.confusion.diag() / self.confusion.sum(0).clamp(min=1)

    @property
    def f1(self) -> torch.Tensor:
        p, r = self.precision, self.recall
        return torch.where(p + r > 0, 2 * p * r / (p + r).clamp(min=1e-12), torch.zeros_like(p))

    def per_class_accuracy(self) -> dict[str, float]:
        return {c: float(a) for c, a in zip(self.classes, self.recall)}

    def table(self) -> list[dict[str, float | str | int]]:
        return [
            {
                "class": c,
                "accuracy": float(r),
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for c, p, r, f, s in zip(self.classes, self.precision, self.recall, self.f1, self.support)
        ]

    @classmethod
    def merge(cls, parts: Sequence[tuple[torch.Tensor, Report]], total: int) -> Report:
        """One Report over a test set of `total` images from Reports over disjoint parts of it, each with its
        images' positions in the set: how the ranks of a distributed run, each scoring its shard, add up."""
        first = parts[0][1]
        predictions = torch.zeros(total, dtype=torch.int64)
        confidence = torch.zeros(total)
        confusion = torch.zeros_like(first.confusion)
        loss = 0.0
        for indices, part in parts:
            predictions[indices], confidence[indices] = part.predictions, part.confidence
            confusion += part.confusion
            loss += part.loss * len(indices) / max(total, 1)
        return cls(first.classes, confusion, loss, predictions, confidence)

    def confusion_shares(self) -> torch.Tensor:
        """The confusion matrix with each row divided by its total: the share of each true class predicted
        as each class (an empty row stays zeros)."""
        counts = self.confusion.double()
        return counts / counts.sum(1, keepdim=True).clamp(min=1)

    def taken_for(self, true_class: str) -> list[tuple[str, int]]:
        """The other classes with how many `true_class` test images were predicted as each, most first."""
        t = self.classes.index(true_class)
        counts = [(c, int(n)) for j, (c, n) in enumerate(zip(self.classes, self.confusion[t])) if j != t]
        return sorted(counts, key=lambda cn: -cn[1])

    def mistakes(
        self, test_y: torch.Tensor, true_class: str, predicted_class: str, limit: int = 24
    ) -> list[tuple[int, float]]:
        """The first `limit` test images of `true_class` predicted as `predicted_class`: (index in the test
        split, the model's confidence in that prediction). `test_y`: the labels the report was made from."""
        t, p = self.classes.index(true_class), self.classes.index(predicted_class)
        hits = ((test_y == t) & (self.predictions == p)).nonzero().flatten()[:limit].tolist()
        if self.confidence is None:  # a report made by hand, without evaluate()
            return [(i, float("nan")) for i in hits]
        return [(i, float(self.confidence[i])) for i in hits]


def confusion_cell(points: Sequence[Mapping], classes: Sequence[str]) -> tuple[str, str] | None:
    """The (true, predicted) classes of the confusion-matrix cell a chart click selected: the first point's
    `customdata`, [true index, predicted index] (ui.charts.confusion_figure puts them on each cell). None
    when nothing, or nothing that names a cell of `classes`, is selected."""
    cell = points[0].get("customdata") if points else None
    if not isinstance(cell, (list, tuple)) or len(cell) != 2:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(classes) for i in cell):
        return None
    return classes[cell[0]], classes[cell[1]]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The block runs in eval mode (batch-norm's running statistics, no dropout); the model's own mode is
    restored afterwards, even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def logits(
    model: nn.Module,
    x: torch.Tensor,
    in_channels: int,
    mean=TUTORIAL_MEAN,
    std=TUTORIAL_STD,
    tta: bool = False,
    memory_format=torch.contiguous_format,
    amp: str = "off",
) -> torch.Tensor:
    """Logits of uint8 images; with `tta`, averaged with the horizontally flipped images."""
    inp = to_model_input(x, in_channels, mean, std).contiguous(memory_format=memory_format)
    with autocast(inp.device, amp):
        out = model(inp).float()
        if tta:
            out = (out + model(inp.flip(3)).float()) / 2
    return out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    classes: list[str],
    in_channels: int,
    mean=TUTORIAL_MEAN,
    std=TUTORIAL_STD,
    batch_size: int = 1000,
    tta: bool = False,
    progress: Callable[[int, int], None] | None = None,
    memory_format=torch.contiguous_format,
    amp: str = "off",
) -> Report:
    """Confusion matrix, loss and predictions over (x, y) in eval mode; the model's mode is restored."""
    device = next(model.parameters()).device
    k = len(classes)
    confusion = torch.zeros(k, k, dtype=torch.int64)
    preds, confs, loss_sum = [], [], 0.0
    with eval_mode(model):
        for i in range(0, len(y), batch_size):
            xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
            out = logits(model, xb, in_channels, mean, std, tta, memory_format, amp)
            loss_sum += float(nn.functional.cross_entropy(out, yb, reduction="sum"))
            conf, p = out.softmax(1).max(1)
            preds.append(p.cpu())
            confs.append(conf.cpu())
            confusion += torch.bincount(yb.cpu() * k + p.cpu(), minlength=k * k).view(k, k)
            if progress:
                progress(min(i + batch_size, len(y)), len(y))
    empty = torch.zeros(0, dtype=torch.int64)
    return Report(
        list(classes),
        confusion,
        loss_sum / max(len(y), 1),
        torch.cat(preds) if preds else empty,
        torch.cat(confs) if confs else empty.float(),
    )


@torch.no_grad()
def predict_topk(
    model: nn.Module,
    x: torch.Tensor,
    classes: list[str],
    in_channels: int,
    k: int = 3,
    mean=TUTORIAL_MEAN,
    std=TUTORIAL_STD,
) -> list[list[tuple[str, float]]]:
    """For each uint8 image, its k most probable classes with their softmax probabilities."""
    device = next(model.parameters()).device
    with eval_mode(model):
        probs = logits(model, x.to(device), in_channels, mean, std).softmax(1).cpu()
    top = probs.topk(min(k, len(classes)), dim=1)
    return [
        [(classes[int(i)], float(p)) for p, i in zip(ps, idx)] for ps, idx in zip(top.values, top.indices)
    ]


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load a state dict (bare, or inside a Blitz Lab checkpoint) into `model`, or raise CheckpointError."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise CheckpointError(N_("{path} does not exist."), path=str(path)) from e
    except Exception as e:  # not a torch file, truncated, or holds objects other than tensors
        raise CheckpointError(
            N_("{path} is not a readable PyTorch state dict ({error})."),
            path=str(path),
            error=type(e).__name__,
        ) from e
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            N_("{path} does not hold a state dict (a mapping of parameter names to tensors)."), path=str(path)
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(
            N_("{path} does not fit the {model} model: {detail}"),
            path=str(path),
            model=type(model).__name__,
            detail=first,
        ) from e


def load_run_model(run, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """The run's model with its saved weights, and the run's config (CheckpointError when config.json is not
    a run's config: `{}`, unknown keys, bad values)."""
    if (problem := run.config_problem()) is not None:
        damaged = N_("The config of run {run} is damaged: {problem}")
        raise CheckpointError(damaged, run=run.id, problem=problem)
    cfg = {"mean": TUTORIAL_MEAN, "std": TUTORIAL_STD, **run.config()}  # the config's defaults, if left out
    spec = get_model_spec(cfg["model"], cfg.get("layers", ""))
    if not run.model_path.exists():
        raise CheckpointError(N_("Run {run} has no saved model yet (no epoch finished)."), run=run.id)
    model = spec.build(len(run.summary().get("classes") or range(10)))
    load_weights(model, run.model_path)
    return model.to(device).eval(), cfg


def evaluate_run(
    run, device: torch.device | str = "cpu", dataset=None, progress: Callable[[int, int], None] | None = None
) -> tuple[Report, Dataset]:
    """A run's saved model on its own test split, evaluated as its training loop evaluated it: the run's
    normalisation, test-time flip, autocast (bf16 rounds differently from float32: fast-cpu's 74.4 % read
    74.3 % here before) and memory format."""
    model, cfg = load_run_model(run, device)
    ds = dataset or load_dataset(cfg["data"], cfg.get("data_dir", data_dir()))
    if len(ds.classes) != len(run.summary().get("classes") or ds.classes):
        raise CheckpointError(
            N_("Run {run} was trained on {trained} classes; {data} now has {now}."),
            run=run.id,
            trained=len(run.summary()["classes"]),
            data=cfg["data"],
            now=len(ds.classes),
        )
    report = evaluate(
        model,
        ds.test_x,
        ds.test_y,
        ds.classes,
        get_model_spec(cfg["model"], cfg.get("layers", "")).in_channels,
        tuple(cfg["mean"]),
        tuple(cfg["std"]),
        tta=cfg.get("tta", False),
        progress=progress,
        memory_format=torch.channels_last if cfg.get("channels_last") else torch.contiguous_format,
        amp=cfg.get("amp", "off"),
    )
    return report, ds
