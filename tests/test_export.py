"""The exported script (core/recipe_code.py's `export_script`) trains a run's recipe with torch and
torchvision alone: each preset's script, run for a few dozen steps on a small generated image folder, learns
(its loss falls) and saves a model.pth that core.evaluation loads and scores as the script did; the tutorial
and fast-cpu scripts train the very weights the engine trains and print the console core.console rebuilds
from the run's events; `python -m core.export RUN_ID` prints the script."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.config import make_config
from core.console import FINISHED, accuracy_percent, console_lines
from core.data import load_image_folder
from core.evaluation import evaluate, load_weights
from core.export import main
from core.models import MODELS, build_model
from core.recipe_code import export_script
from core.runs import RunStore
from core.trainer import train

COLOURS = {"blue": (40, 60, 200), "gray": (128, 128, 128), "green": (40, 180, 60), "red": (200, 40, 40)}
LOSS = re.compile(r"^\[(\d+), +(\d+)\] loss: (\d+\.\d{3})$")
CASES = {  # the run's config, and the script's flags for a short run on the folder
    "tutorial": (make_config("tutorial", data="cifar10"), ["--epochs", "3"]),
    "fast-cpu": (make_config("fast-cpu", data="cifar10"), ["--epochs", "2", "--batch-size", "16"]),
    "fast-gpu": (make_config("fast-gpu", data="cifar10"), ["--epochs", "2", "--batch-size", "16"]),
    "custom": (
        make_config(
            None,
            data="synthetic",
            model="resnet9-mini",
            optimizer="adamw",
            lr=0.003,
            schedule="onecycle",
            label_smoothing=0.1,
            crop_pad=3,
            weight_decay=5e-4,
        ),
        ["--epochs", "2", "--batch-size", "16"],
    ),  # fmt: skip
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An image folder of 4 classes of noisy colour swatches (PNG, 40 train and 10 test images each)."""
    root = tmp_path_factory.mktemp("swatches")
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        for name, rgb in COLOURS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = np.array(rgb) * rng.uniform(0.6, 1.3) + rng.normal(0, 30, (32, 32, 3))
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def run_script(script: str, where: Path, *args: str, threads: int = 1) -> str:
    """Run the script in a fresh interpreter that cannot import this project; its stdout."""
    path = where / "train_export.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, str(path), "--device", "cpu", *args],
        cwd=where, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _imports(script: str) -> set[str]:
    """The top-level packages a script imports."""
    found = set()
    for node in ast.walk(ast.parse(script)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found


def _losses(out: str) -> list[float]:
    return [float(m.group(3)) for line in out.splitlines() if (m := LOSS.match(line))]


def _results(lines: list[str]) -> list[str]:
    """`Finished Training` and the accuracy lines (the script's training time left out)."""
    lines = lines[lines.index(FINISHED) :]
    return [line for line in lines if not line.startswith("(training took")]


@pytest.mark.slow  # each script trains in its own process
@pytest.mark.parametrize("name", list(CASES))
def test_each_script_trains_and_its_model_opens_in_core_evaluate(name, folder, tmp_path):
    cfg, flags = CASES[name]
    script = export_script(cfg, "RUN-1")
    assert _imports(script) <= {"__future__", "argparse", "math", "os", "time", "torch", "torchvision"}
    out = run_script(script, tmp_path, "--data", str(folder), "--out", str(tmp_path / "model.pth"), *flags)
    losses = _losses(out)
    assert len(losses) >= 2 and losses[-1] < losses[0], out
    # model.pth: the state_dict of the class core.models builds, scored by core.evaluation as by the script
    ds = load_image_folder(folder)
    model = build_model(cfg.model, len(ds.classes))
    load_weights(model, tmp_path / "model.pth")
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    report = evaluate(model.to(memory_format=fmt), ds.test_x, ds.test_y, ds.classes,
                      MODELS[cfg.model].in_channels, cfg.mean, cfg.std, tta=cfg.tta, memory_format=fmt,
                      amp=cfg.amp)  # fmt: skip
    printed = (
        f"Accuracy of the network on the {len(ds.test_y)} test images: {accuracy_percent(report.accuracy)} %"
    )
    assert printed in out.splitlines() and report.accuracy > 1 / len(ds.classes)


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "batch_size"), [("tutorial", 4), ("fast-cpu", 16)])
def test_the_script_trains_the_weights_the_engine_trains(preset, batch_size, folder, tmp_path):
    cfg = make_config(preset, data=str(folder), epochs=1, batch_size=batch_size, device="cpu",
                      data_dir=str(tmp_path / "data"))  # fmt: skip
    run = RunStore(tmp_path / "runs").create(asdict(cfg))
    assert train(cfg, run)["status"] == "completed"
    # bf16 sums come out the same only with as many threads as the engine used
    out = run_script(export_script(cfg), tmp_path, "--out", str(tmp_path / "model.pth"),
                     threads=run.summary()["threads"])  # fmt: skip
    ours, engine = torch.load(tmp_path / "model.pth"), torch.load(run.model_path)
    assert list(ours) == list(engine)
    for key in engine:
        torch.testing.assert_close(ours[key], engine[key], rtol=1e-4, atol=1e-5, msg=key)
    console = console_lines(run.events(), batch_size)
    assert _results(out.splitlines()) == _results(console)
    assert _losses(out) == pytest.approx(_losses("\n".join(console)), abs=0.0011)


@pytest.mark.slow
def test_a_synthetic_runs_script_generates_the_demo_shapes_itself(tmp_path):
    cfg = make_config(None, data="synthetic", batch_size=64)
    out = run_script(export_script(cfg), tmp_path, "--epochs", "0.05", "--out", str(tmp_path / "m.pth"))
    assert "Accuracy of the network on the 1000 test images: " in out
    assert "Accuracy for class: disc  is " in out and (tmp_path / "m.pth").is_file()


def test_the_command_line_prints_a_runs_script(tmp_path, capsys):
    cfg = make_config("fast-cpu", data="cifar10")
    run = RunStore(tmp_path).create(asdict(cfg))
    assert main([run.id, "--runs-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == export_script(cfg, run.id)


@pytest.mark.parametrize("damage", ["no run", "bad id", "bad config", "unknown key"])
def test_a_bad_run_is_one_line_and_exit_2(tmp_path, capsys, damage):
    run = RunStore(tmp_path).create(asdict(make_config("tutorial", data="cifar10")))
    run_id = {"no run": "20990101-nothing", "bad id": "../etc"}.get(damage, run.id)
    if damage == "bad config":
        (run.path / "config.json").write_text("{not json")
    if damage == "unknown key":
        (run.path / "config.json").write_text('{"model": "tutorial", "colour": "red"}')
    with pytest.raises(SystemExit) as e:
        main([run_id, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert (
        e.value.code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("python -m core.export")
    )
