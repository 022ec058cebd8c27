"""Optimizers and learning-rate schedules, by name, from torch.optim."""
from __future__ import annotations

import torch
from torch import nn

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """`sgd` with momentum > 0 is SGD+momentum (the tutorial's `optim.SGD(lr=0.001, momentum=0.9)`)."""
    params = model.parameters()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=momentum or 0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"Unknown optimizer '{name}'. Available: {', '.join(OPTIMIZERS)}.")


def make_schedule(optimizer: torch.optim.Optimizer, name: str, total_steps: int):
    """A per-step scheduler, or None for a constant learning rate (`lr` is then the peak for onecycle)."""
    if name == "constant":
        return None
    if name == "onecycle":
        lr = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 2),
                                                   pct_start=0.25, cycle_momentum=False)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    raise ValueError(f"Unknown schedule '{name}'. Available: {', '.join(SCHEDULES)}.")
