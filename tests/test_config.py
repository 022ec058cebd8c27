"""One source of truth: the CLI flags are generated from TrainConfig, and cli_command writes them back."""

import shlex
from dataclasses import fields, replace

import pytest
import torch

from core.batches import Batches
from core.config import PRESETS, TrainConfig, cli_command, config_from_args, make_config, parser
from core.data import make_synthetic
from core.distributed import Rank
from core.models import MODELS
from core.optim import OPTIMIZERS, SCHEDULES
from core.train import main

# a valid value different from every preset's and from the default, per field
CHANGED = {
    "data": "/tmp/my images",
    "data_dir": "elsewhere",
    "mean": (0.1, 0.2, 0.3),
    "std": (0.25, 0.5, 0.75),
    "model": "resnet9",
    "device": "cpu",
    "epochs": 0.25,
    "batch_size": 48,
    "optimizer": "adamw",
    "lr": 0.0123,
    "momentum": 0.5,
    "weight_decay": 0.001,
    "norm_bias_lr_scale": 16.0,
    "schedule": "cosine",
    "label_smoothing": 0.1,
    "crop_pad": 3,
    "amp": "fp16",
    "seed": 7,
    "layers": "Conv2d(3, 8, 5) | ReLU | MaxPool2d(2) | Flatten | Linear(1568, 10)",  # with --model custom
}
# an invalid command-line value per field, and what the one-line message must say
BAD = {
    "data_dir": None,  # any text is a folder name; checked when the run loads data
    "data": None,
    "mean": ("nan", "finite"),
    "std": ("0", "Std must be positive"),
    "model": ("vgg", "invalid choice"),
    "preset": ("turbo", "invalid choice"),
    "device": ("cuda:9", "--device"),
    "epochs": ("0", "Epochs must be a positive"),
    "batch_size": ("2.5", "invalid int value"),
    "optimizer": ("rmsprop", "invalid choice"),
    "lr": ("inf", "finite"),
    "momentum": ("1.5", "Momentum"),
    "weight_decay": ("-1", "Weight decay"),
    "norm_bias_lr_scale": ("0", "norm-bias"),
    "schedule": ("step", "invalid choice"),
    "label_smoothing": ("1", "Label smoothing"),
    "flip": ("yes", "unrecognized arguments"),
    "crop_pad": ("9", "Crop padding"),
    "tta": ("yes", "unrecognized arguments"),
    "amp": ("fp8", "invalid choice"),
    "channels_last": ("yes", "unrecognized arguments"),
    "seed": ("x", "invalid int value"),
    "layers": ("Conv2d(3, 6, 5) | Flatten | Linear(400, 10)", "--layers is for --model custom only"),
}


def parse(command: str) -> TrainConfig:
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "core.train"]
    return config_from_args(parser().parse_args(words[3:]))


def variants():
    """Every preset (and none), with each field changed in turn, booleans flipped."""
    for preset in ["", *PRESETS]:
        base = make_config(preset or None)
        yield base
        for f in fields(TrainConfig):
            if f.name == "preset":
                continue
            value = not getattr(base, f.name) if f.type in ("bool", bool) else CHANGED[f.name]
            # a built network's layers come with --model custom
            yield replace(base, **{f.name: value}, **({"model": "custom"} if f.name == "layers" else {}))


def test_every_preset_and_every_changed_field_round_trips_through_the_command_line():
    for cfg in variants():
        assert not cfg.problems(), cfg
        assert parse(cli_command(cfg)) == cfg, cli_command(cfg)


def test_the_command_line_quotes_paths_and_writes_normalisation():
    cfg = replace(make_config("fast-cpu"), data="/tmp/my images", mean=(0.1, 0.2, 0.3))
    line = cli_command(cfg)
    assert "--data '/tmp/my images'" in line and "--mean 0.1 0.2 0.3" in line
    assert "--std" not in line  # the preset's std: nothing to say


def test_every_field_has_a_flag_with_help():
    helptext = parser().format_help()
    for f in fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')}" in helptext
        assert f.metadata["help"]
    assert set(MODELS) <= set(parser()._option_string_actions["--model"].choices)
    assert tuple(parser()._option_string_actions["--optimizer"].choices) == OPTIMIZERS
    assert tuple(parser()._option_string_actions["--schedule"].choices) == SCHEDULES


@pytest.mark.parametrize("name", [n for n, bad in BAD.items() if bad])
def test_each_bad_flag_value_exits_2_with_one_line_and_no_run_folder(name, tmp_path, capsys):
    value, message = BAD[name]
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as e:
        main(["--data", "synthetic", f"--{name.replace('_', '-')}", value, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err
    assert not runs.exists() or not any(runs.iterdir())


def test_every_field_is_covered_by_the_bad_value_walk():
    assert set(BAD) == {f.name for f in fields(TrainConfig)}
    assert set(CHANGED) | {"preset", "flip", "tta", "channels_last"} == {f.name for f in fields(TrainConfig)}


def test_the_cli_honours_the_app_s_runs_and_data_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("BLITZLAB_RUNS_DIR", str(tmp_path / "app-runs"))
    monkeypatch.setenv("BLITZLAB_DATA_DIR", str(tmp_path / "app-data"))
    args = parser().parse_args(["--data", "synthetic"])
    assert args.runs_dir == str(tmp_path / "app-runs")
    assert config_from_args(args).data_dir == str(tmp_path / "app-data")


def test_batches_cover_an_epoch_once_and_split_a_batch_between_ranks():
    ds = make_synthetic(100, 10, seed=0)
    cfg = make_config(batch_size=8, epochs=1)
    single = list(Batches(ds, cfg).epoch(0))
    assert [b.step for b in single] == list(range(13)) and single[-1].last and not single[0].last
    assert sum(len(b.y) for b in single) == 100 and single[-1].images == 4
    # two ranks together see exactly the single process's batches, image for image
    ranks = [list(Batches(ds, cfg, Rank(r, 2)).epoch(0)) for r in (0, 1)]
    for b, r0, r1 in zip(single, *ranks):
        assert sorted(r0.y.tolist() + r1.y.tolist()) == sorted(b.y.tolist())
        assert len(r0.y) == len(r1.y) == b.images // 2
    # a resumed epoch starts mid-way with the same batches
    resumed = list(Batches(ds, cfg).epoch(0, first_step=5))
    assert [b.step for b in resumed] == list(range(5, 13))
    assert all(torch.equal(a.x, b.x) and torch.equal(a.y, b.y) for a, b in zip(single[5:], resumed))
