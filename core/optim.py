"""Optimizers and learning-rate schedules, by name, from torch.optim."""

from __future__ import annotations

import torch
from torch import nn

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine", "linear")


def _param_groups(model: nn.Module, lr: float, weight_decay: float, norm_bias_lr_scale: float) -> list[dict]:
    """airbench's trick: batch-norm shifts learn `norm_bias_lr_scale`× faster; their weight decay is divided
    by the same factor so every parameter decays by the same amount per step."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    norm_biases = {id(m.bias) for m in model.modules() if isinstance(m, norms) and m.bias is not None}
    trainable = [p for p in model.parameters() if p.requires_grad]
    fast = [p for p in trainable if id(p) in norm_biases]
    rest = [p for p in trainable if id(p) not in norm_biases]
    if norm_bias_lr_scale == 1 or not fast:
        return [dict(params=trainable, lr=lr, weight_decay=weight_decay)]
    return [
        dict(params=rest, lr=lr, weight_decay=weight_decay),
        dict(params=fast, lr=lr * norm_bias_lr_scale, weight_decay=weight_decay / norm_bias_lr_scale),
    ]


def make_optimizer(
    model: nn.Module,
    name: str,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    norm_bias_lr_scale: float = 1.0,
) -> torch.optim.Optimizer:
    """`sgd` with momentum > 0 is SGD+momentum (the tutorial's `optim.SGD(lr=0.001, momentum=0.9)`).

    On CPU and CUDA the update is torch's fused kernel: the same arithmetic in one call instead of a
    Python loop over parameters (at the tutorial's batch 4, the loop was a seventh of every step)."""
    groups = _param_groups(model, lr, weight_decay, norm_bias_lr_scale)
    fused = all(p.device.type in ("cpu", "cuda") for p in model.parameters()) or None
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, fused=fused)
    if name == "nesterov":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum or 0.9, nesterov=True, fused=fused)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=fused)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=fused)
    raise ValueError(f"Unknown optimizer '{name}'. Available: {', '.join(OPTIMIZERS)}.")


def _warmup_linear(total_steps: int, warmup: float = 0.2, start: float = 0.2):
    """airbench's triangle: from `start`× up to the peak over the first `warmup` of training,
    then down to 0."""
    peak = max(int(warmup * total_steps), 1)

    def factor(step: int) -> float:
        if step < peak:
            return start + (1 - start) * step / peak
        return max(0.0, (total_steps - step) / max(total_steps - peak, 1))

    return factor


def make_schedule(optimizer: torch.optim.Optimizer, name: str, total_steps: int):
    """A per-step scheduler, or None for a constant learning rate (`lr` is then the peak)."""
    if name == "constant":
        return None
    if name == "onecycle":
        lrs = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lrs, total_steps=max(total_steps, 2), pct_start=0.25, cycle_momentum=False
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    if name == "linear":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_linear(total_steps))
    raise ValueError(f"Unknown schedule '{name}'. Available: {', '.join(SCHEDULES)}.")
