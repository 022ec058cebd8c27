"""Where a training step's time goes, kernel by kernel, and how near its convolutions run to the peak.

    python bench/kernels.py                                   # the full airbench at fast-cpu's settings
    python bench/kernels.py --model airbench-mini --steps 20  # fast-cpu's own network

One training step of the preset's recipe (its autocast, memory format, loss and optimizer, batch size, and
the engine's oneDNN and denormal switches), on random images, profiled by torch.profiler over `--steps`
steps after warm-up. An airbench network is measured as it starts, its whitening bias still learning, as in
the first 30 % of a run's steps (after that, nothing back-propagates into the first convolution's input).
Convolution FLOPs are counted by torch's FlopCounterMode on the same step. The reference peak is a 2048²
matmul in the same dtype on the same threads, measured in the same run (oneDNN's convolutions beat it on
some shapes). Prints markdown tables for docs/BENCHMARKS.md: each kernel's share of the step and, for the
convolutions, their achieved GFLOP/s against that peak; then each convolution's two gradients timed apart.
Meant for the fast recipes' big steps: at the tutorial's batch 4 the profiler's own cost per call dominates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import profile
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.train_speed import matmul_peak  # noqa: E402
from core.config import PRESETS, make_config, positive_int  # noqa: E402
from core.devices import autocast, machine, speed_switches  # noqa: E402
from core.models import get_model_spec  # noqa: E402
from core.optim import make_optimizer  # noqa: E402

# profiler names → the kernel a reader knows; the rest is summed as "everything else"
KERNELS = {
    "aten::mkldnn_convolution": "convolution, forward",
    "aten::_slow_conv2d_forward": "convolution, forward",
    "aten::_slow_conv2d_backward": "convolution, backward",
    "aten::convolution_backward": "convolution, backward",
    "aten::max_pool2d_with_indices": "max-pool, forward",
    "aten::max_pool2d_with_indices_backward": "max-pool, backward",
    "aten::fill_": "zero-fill (mostly max-pool's backward)",
    "aten::gelu": "GELU, forward",
    "aten::gelu_backward": "GELU, backward",
    "aten::native_batch_norm": "batch-norm, forward",
    "aten::native_batch_norm_backward": "batch-norm, backward",
}
CONV_FLOPS = {
    "convolution, forward": "aten.convolution",
    "convolution, backward": "aten.convolution_backward",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="fast-cpu", choices=list(PRESETS), help="the recipe's settings")
    p.add_argument("--model", default="airbench", help="the network (default: the full airbench)")
    p.add_argument("--batch-size", type=positive_int, help="default: the preset's")
    p.add_argument("--steps", type=positive_int, default=6, help="profiled steps, after 3 of warm-up")
    args = p.parse_args()
    cfg = make_config(args.preset, model=args.model, batch_size=args.batch_size)
    device = torch.device("cpu")
    # first, as the CLI does: OpenMP threads copy the denormal flag when they are created
    speed_switches(device, cfg.batch_size, cfg.amp)
    torch.manual_seed(0)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    # the recipe's step: its network, memory format, autocast, loss and optimizer
    model = get_model_spec(cfg.model).build(10).to(memory_format=fmt)
    opt = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.norm_bias_lr_scale)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    x = torch.randn(cfg.batch_size, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (cfg.batch_size,))

    def step() -> None:
        with autocast(device, cfg.amp):
            loss = criterion(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # FLOPs of one step, then warm-up, then the profiled steps
    with FlopCounterMode(display=False) as counter:
        step()
    flops = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    for _ in range(3):
        step()
    with profile() as prof:
        for _ in range(args.steps):
            step()
    seconds: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        seconds[KERNELS.get(event.key, "everything else")] += event.self_cpu_time_total / 1e6 / args.steps
    dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float32
    peak = matmul_peak(dtype)
    # the table
    total = sum(seconds.values())
    print(f"machine: {machine(device)}; torch {torch.__version__}")
    print(f"command: python bench/kernels.py {' '.join(sys.argv[1:])}")
    print(f"{cfg.model}, batch {cfg.batch_size}, amp {cfg.amp}: {total * 1e3:.0f} ms a step (profiled);")
    print(f"{str(dtype).removeprefix('torch.')} matmul peak {peak:,.0f} GFLOP/s\n")
    print("| kernel | ms a step | share | GFLOP/s (share of peak) |")
    print("|---|---|---|---|")
    for name, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        rate = ""
        if name in CONV_FLOPS and s > 0:
            gflops = flops.get(CONV_FLOPS[name], 0) / s / 1e9
            rate = f"{gflops:,.0f} ({gflops / peak:.0%})"
        print(f"| {name} | {s * 1e3:.1f} | {s / total:.0%} | {rate} |")
    layer_split(model, x, cfg.amp, peak)


def layer_split(model: torch.nn.Module, x: torch.Tensor, amp: str, peak: float) -> None:
    """Each convolution's backward, timed apart: the gradient of its input and that of its weights
    (medians of 10 calls on the shapes, dtype and memory format the step gave it)."""
    calls: list[tuple[torch.nn.Conv2d, torch.Tensor, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda m, inp, out: calls.append((m, inp[0].detach(), out.detach())))
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad
    ]
    with torch.no_grad(), autocast(torch.device("cpu"), amp):
        model(x)
    for h in hooks:
        h.remove()
    print("\n| convolution (channels in → out, input size) | input gradient | weight gradient |")
    print("|---|---|---|")
    # the dtype the convolution ran in: autocast's where the recipe uses it, else its input's
    dtype = torch.bfloat16 if amp == "bf16" else None
    for conv, inp, out in calls:
        cl = inp.is_contiguous(memory_format=torch.channels_last)
        fmt = torch.channels_last if cl else torch.contiguous_format
        inp = inp.to(dtype or inp.dtype).contiguous(memory_format=fmt)
        w = conv.weight.to(inp.dtype).contiguous(memory_format=fmt)
        grad = torch.randn_like(out, dtype=inp.dtype)
        flop = 2 * out.numel() * conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        cells = []
        for mask in ([True, False, False], [False, True, False]):
            args = (
                grad,
                inp,
                w,
                None,
                conv.stride,
                conv.padding,
                conv.dilation,
                False,
                [0, 0],
                conv.groups,
                mask,
            )
            s = median_seconds(lambda args=args: torch.ops.aten.convolution_backward(*args))
            cells.append(f"{s * 1e3:.1f} ms, {flop / s / 1e9:,.0f} GFLOP/s")
        size = f"{inp.shape[-2]}×{inp.shape[-1]}"
        print(f"| {conv.in_channels} → {conv.out_channels}, {size} | {cells[0]} | {cells[1]} |")
    print(f"(medians of 10 calls each; the 2048² matmul: {peak:,.0f} GFLOP/s)")


def median_seconds(fn, calls: int = 10) -> float:
    fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == "__main__":
    main()
