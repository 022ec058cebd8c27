"""An epoch's mini-batches, cut as views from chunks of prepared images.

Why chunks: normalising and augmenting CHUNK_IMAGES images in a few big tensor ops costs far less than
doing it per step (at the tutorial's batch 4, the per-step ops were a tenth of the step). Every epoch
shuffles with a generator seeded by (seed, epoch), so a resumed run sees the same batches, on every rank.
Under DDP each rank prepares only its share of each batch: DistributedSampler's stride.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .config import TrainConfig
from .data import Dataset, augment, to_model_input
from .distributed import SINGLE_PROCESS, Rank

CHUNK_IMAGES = 8192  # training images prepared (augmented, normalised) at a time: ~100 MB as float32


@dataclass
class Batch:
    step: int  # within the epoch
    x: torch.Tensor  # this rank's images, augmented and normalised
    y: torch.Tensor
    images: int  # the whole (global) batch's size: the last batch of an epoch may be smaller
    last: bool  # the epoch's last step


class Batches:
    def __init__(
        self,
        ds: Dataset,
        cfg: TrainConfig,
        rank: Rank = SINGLE_PROCESS,
        in_channels: int = 3,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        self.ds, self.batch_size, self.rank, self.seed = ds, cfg.batch_size, rank, cfg.seed
        self.in_channels, self.cfg, self.memory_format = in_channels, cfg, memory_format
        n, batch_size = len(ds.train_y), cfg.batch_size
        self.steps_per_epoch = math.ceil(n / batch_size)  # the last, smaller batch is kept ...
        if 0 < n % batch_size < rank.world:
            self.steps_per_epoch -= 1  # ... unless it is too small to give every rank an image
        self.total_steps = max(1, round(cfg.epochs * self.steps_per_epoch))
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)  # the last one may be partial
        self.share = len(range(rank.rank, batch_size, rank.world))  # this rank's images of a full batch

    def prepare(self, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """uint8 images → the network's input: augmented, normalised, in the run's memory format.
        Flips and crops only move pixels, so they run on the uint8 images first (a byte a value, not a
        float's four): the same result as augmenting the normalised floats, in about 60 % of the time."""
        cfg = self.cfg
        x = to_model_input(augment(images, cfg.flip, cfg.crop_pad, g), self.in_channels, cfg.mean, cfg.std)
        return x.contiguous(memory_format=self.memory_format)

    def epoch(self, epoch: int, first_step: int = 0) -> Iterator[Batch]:
        """The batches of `epoch` from `first_step` on (a resumed run starts mid-epoch)."""
        ds, bs, rank, device = self.ds, self.batch_size, self.rank, self.ds.train_y.device
        g = torch.Generator(device).manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(ds.train_y), device=device, generator=g)
        steps = min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)
        chunk_steps = max(1, CHUNK_IMAGES // bs)
        for start in range(first_step, steps, chunk_steps):
            rows = perm[start * bs : min(start + chunk_steps, steps) * bs]
            if rank.distributed:
                rows = rows[torch.arange(len(rows), device=device) % bs % rank.world == rank.rank]
            x, y = self.prepare(ds.train_x[rows], g), ds.train_y[rows]
            for step in range(start, min(start + chunk_steps, steps)):
                # every batch but an epoch's last is full, so each rank's shares start evenly
                lo = (step - start) * self.share
                yield Batch(
                    step,
                    x[lo : lo + self.share],
                    y[lo : lo + self.share],
                    min(bs, len(ds.train_y) - step * bs),
                    last=step == steps - 1,
                )
