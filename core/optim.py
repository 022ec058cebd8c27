"""Optimizers and learning-rate schedules, by name, from torch.optim."""

from __future__ import annotations

import math

import torch
from torch import nn

from .messages import N_, MessageError

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine", "linear")


def param_groups(model: nn.Module, lr: float, weight_decay: float, norm_bias_lr_scale: float) -> list[dict]:
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


class LeanSGD(torch.optim.SGD):
    """torch.optim.SGD with `fused=True`, minus most of the Python around its kernel: the same
    `torch._fused_sgd_` call on the same tensors, so the same weights to the bit, and the same state (its
    checkpoints load into torch.optim.SGD and back). At the tutorial's batch 4 the generic `step()` and
    `zero_grad()` were 15 % of every step (1.05 → 0.89 ms a step, 2-core CPU; docs/BENCHMARKS.md)."""

    @torch.no_grad()
    def step(self, closure=None):
        if not all(g["fused"] for g in self.param_groups):
            return super().step(closure)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # what GradScaler hands a fused optimizer (fp16 on CUDA); absent otherwise
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            momentum = group["momentum"]
            buffers = [self.state[p].get("momentum_buffer") for p in params] if momentum else []
            first = bool(momentum) and all(b is None for b in buffers)
            # the kernel copies the first gradients into new buffers; zeros, not torch's empty, so that a
            # first step GradScaler skips (an fp16 overflow) leaves momentum at 0 rather than stale memory
            if first:
                buffers = [torch.zeros_like(p) for p in params]
                for p, b in zip(params, buffers):
                    self.state[p]["momentum_buffer"] = b
            torch._fused_sgd_(
                params,
                [p.grad for p in params],
                buffers,
                weight_decay=group["weight_decay"],
                momentum=momentum,
                lr=group["lr"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
                is_first_step=first,
                grad_scale=grad_scale,
                found_inf=found_inf,
            )
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        if not set_to_none:
            return super().zero_grad(set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None


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
    Python loop over parameters (at the tutorial's batch 4, the loop was a seventh of every step), and for
    SGD without the Python torch runs around that call (LeanSGD)."""
    groups = param_groups(model, lr, weight_decay, norm_bias_lr_scale)
    fused = all(p.device.type in ("cpu", "cuda") for p in model.parameters()) or None
    # one fused kernel call takes one device and dtype: what every network here has
    uniform = len({(p.device, p.dtype) for p in model.parameters()}) == 1
    sgd = LeanSGD if fused and uniform else torch.optim.SGD
    if name == "sgd":
        return sgd(groups, lr=lr, momentum=momentum, fused=fused)
    if name == "nesterov":
        return sgd(groups, lr=lr, momentum=momentum or 0.9, nesterov=True, fused=fused)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=fused)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=fused)
    raise ValueError(f"Unknown optimizer '{name}'. Available: {', '.join(OPTIMIZERS)}.")


def warmup_linear(total_steps: int, warmup: float = 0.2, start: float = 0.2):
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
        return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total_steps))
    raise ValueError(f"Unknown schedule '{name}'. Available: {', '.join(SCHEDULES)}.")


HYPERPARAMETERS = ("lr", "momentum", "weight_decay")  # what a paused run may change
_LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")  # where torch's schedulers keep a group's learning rates


def hyperparameter_problems(values: dict[str, float], optimizer: str) -> list[MessageError]:
    """Why these new values cannot be applied (empty: they can), as translatable messages."""
    p = []
    for name, v in values.items():
        if name not in HYPERPARAMETERS:
            p.append(
                MessageError(
                    N_("'{name}' cannot change during a run: only lr, momentum and weight_decay can."),
                    name=name,
                )
            )
        elif not isinstance(v, (int, float)) or not math.isfinite(v):
            p.append(MessageError(N_("{name} must be a finite number."), name=name))
    if "lr" in values and not values["lr"] > 0:
        p.append(MessageError(N_("The learning rate must be positive.")))
    if "momentum" in values and not 0 <= values["momentum"] < 1:
        p.append(MessageError(N_("Momentum must be in [0, 1).")))
    if optimizer == "nesterov" and values.get("momentum", 1) == 0:
        p.append(MessageError(N_("Nesterov SGD needs a momentum above 0.")))
    if "weight_decay" in values and not values["weight_decay"] >= 0:
        p.append(MessageError(N_("Weight decay must be ≥ 0.")))
    return p


def set_hyperparameters(
    opt: torch.optim.Optimizer, sched, current: dict[str, float], new: dict[str, float]
) -> dict:
    """Apply new lr / momentum / weight decay to a live optimizer; returns the values now in force.

    `lr` is the peak the config names: every group's rate and the schedule's remaining curve scale by
    new / old, so warm-up and decay keep their shape and the fast norm-bias groups keep their ratio."""
    now = {**current, **new}
    if new.get("lr", current["lr"]) != current["lr"]:
        factor = new["lr"] / current["lr"]
        for g in opt.param_groups:
            for key in _LR_KEYS:
                if key in g:
                    g[key] *= factor
        if sched is not None:
            sched.base_lrs = [b * factor for b in sched.base_lrs]
    main_lr = opt.param_groups[0]["lr"]
    for g in opt.param_groups:
        if "momentum" in new:
            if "betas" in g:
                g["betas"] = (new["momentum"], g["betas"][1])
            else:
                g["momentum"] = new["momentum"]
        if "weight_decay" in new:  # a fast group decays by the same amount per step: wd / its lr ratio
            g["weight_decay"] = new["weight_decay"] * (main_lr / g["lr"] if g["lr"] else 1.0)
    return now
