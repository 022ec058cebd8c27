"""The network builder's two costs (issue 22): how long shape inference takes for the largest network the
builder allows (it runs on every edit, so it must feel instant), and whether a network built from its
layers trains as fast as the same network written as a class (the registry's tutorial `Net`).

    .venv/bin/python bench/layers.py [--rounds 3] [--epochs 0.5]

Speed: the engine (core.trainer.train) on the demo shapes, batch 32, the built CIFAR Net and the registry's
`tutorial` model alternated A/B for `--rounds` rounds; the images/s each run reports, medians.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.config import make_config  # noqa: E402
from core.data import make_synthetic  # noqa: E402
from core.devices import machine  # noqa: E402
from core.layers import CIFAR_NET, MAX_LAYERS, infer, parse  # noqa: E402
from core.runs import RunStore  # noqa: E402
from core.trainer import train  # noqa: E402

# the largest network the caps allow in layer count, with wide 3×3 convolutions at full resolution
LARGEST = " | ".join(
    ["Conv2d(3, 64, 3, padding=1)"] + ["ReLU | Conv2d(64, 64, 3, padding=1)"] * ((MAX_LAYERS - 3) // 2)
    + ["Flatten", "Linear(65536, 10)"]
)  # fmt: skip


def inference_ms(text: str, repeats: int = 20) -> tuple[float, int]:
    layers = parse(text)
    infer(layers, (3, 32, 32))  # the first call loads the meta kernels (once per process)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        infer(layers, (3, 32, 32))
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), len(layers)


def images_per_s(model: str, epochs: float, folder: Path) -> float:
    layers = CIFAR_NET if model == "custom" else ""
    cfg = make_config(
        model=model, layers=layers, data="synthetic", epochs=epochs, batch_size=32, device="cpu"
    )
    run = RunStore(folder).create(asdict(cfg))
    summary = train(cfg, run, dataset=make_synthetic(seed=0))
    return float(summary["images_per_s"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=float, default=0.5)
    args = p.parse_args()
    print(f"machine: {machine(torch.device('cpu'))}; torch {torch.__version__}; {platform.python_version()}")
    ms, n = inference_ms(LARGEST)
    print(f"shape inference, largest network ({n} layers): {ms:.1f} ms (median of 20)")
    ms, n = inference_ms(CIFAR_NET)
    print(f"shape inference, the CIFAR Net ({n} layers): {ms:.1f} ms (median of 20)")
    rates: dict[str, list[float]] = {"custom": [], "tutorial": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for model in rates:  # alternated: A, B, A, B …
                rates[model].append(images_per_s(model, args.epochs, Path(tmp)))
    for model, values in rates.items():
        shown = " · ".join(f"{v:,.0f}" for v in values)
        print(f"{model:9} {statistics.median(values):8,.0f} img/s (median; {shown})")
    print(
        f"built / registry: {statistics.median(rates['custom']) / statistics.median(rates['tutorial']):.3f}"
    )


if __name__ == "__main__":
    main()
