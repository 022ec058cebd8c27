"""Data files generated for tests: image folders and a tiny CIFAR-10 in its real pickle format."""

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, classes: list[str], n: int, size=(40, 30), mode="RGB", ext="png"):
    for k, c in enumerate(classes):
        (folder / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new(mode, size, color=(k * 40, i * 10, 100) if mode == "RGB" else k * 40).save(
                folder / c / f"{i}.{ext}"
            )


def fake_cifar(root: Path, per_batch: int = 20) -> None:
    """A tiny CIFAR-10 in the real `cifar-10-batches-py` pickle format
    (its md5s are not the official ones)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for name in names:
        batch = {
            "batch_label": name,
            "labels": [i % 10 for i in range(per_batch)],
            "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            "filenames": [f"{i}.png" for i in range(per_batch)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_cases_per_batch": per_batch,
            },
            f,
        )
