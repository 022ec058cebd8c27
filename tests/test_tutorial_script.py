"""The tutorial's own program for the `tutorial` recipe: its structure line for line, comments in the
learner's language, printed lines in the tutorial's formats, runnable (on a generated image folder), what
`core.export` writes for a tutorial run, and shown first on the Train page with the engine's beside it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.config import make_config
from core.console import ACCURACY_LINE, CLASS_LINE, FINISHED
from core.export import main as export_main
from core.models import Net
from core.runs import RunStore
from core.tutorial_script import tutorial_script, written_as_tutorial

TUTORIAL = make_config("tutorial", data="cifar10")
# the tutorial's own calls, as it writes them (a learner diffs against these)
TUTORIAL_LINES = (
    "transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])",
    'torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=transform)',
    "torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True, num_workers=2)",
    "batch_size = 4",
    "criterion = nn.CrossEntropyLoss()",
    "optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)",
    "for epoch in range(2):",
    "if i % 2000 == 1999:",
    'torch.save(net.state_dict(), "./cifar_net.pth")',
    "with torch.no_grad():",
    'if __name__ == "__main__":',
)


def test_the_program_has_the_tutorials_structure_and_only_the_comments_follow_the_language():
    english, chinese = tutorial_script(TUTORIAL), tutorial_script(TUTORIAL, "zh")
    for line in TUTORIAL_LINES:
        assert line in english and line in chinese
    compile(english, "tutorial.py", "exec")
    code = lambda text: [line.split("#")[0].rstrip() for line in text.splitlines()]  # noqa: E731
    assert code(english) == code(chinese) and english != chinese
    assert "# 1. " in chinese and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)


@pytest.mark.parametrize(
    "overrides",
    [{"data": "synthetic"}, {"epochs": 0.5}, {"optimizer": "adam"}, {"flip": True}, {"model": "lenet"}],
)
def test_only_a_recipe_the_tutorials_program_trains_is_written_as_it(overrides):
    assert written_as_tutorial(TUTORIAL)
    assert not written_as_tutorial(make_config("tutorial", **{"data": "cifar10", **overrides}))
    assert not written_as_tutorial(make_config("fast-cpu", data="cifar10"))


def _folder(root: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", 8), ("test", 4)):
        for name in ("cat", "dog"):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = torch.randint(0, 256, (40, 40, 3), generator=g, dtype=torch.uint8).numpy()
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def _pattern(template: str) -> re.Pattern:
    """A console template (core/console.py) as a regular expression for one printed line."""
    return re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(template)) + "$")


@pytest.mark.slow
def test_the_program_runs_and_prints_the_tutorials_lines(tmp_path):
    script = tmp_path / "tutorial.py"
    script.write_text(tutorial_script(make_config("tutorial", data="cifar10", epochs=1)))
    folder = _folder(tmp_path / "images")
    done = subprocess.run(
        [sys.executable, str(script), str(folder)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == FINISHED
    assert _pattern(ACCURACY_LINE).match(lines[1]) and "on the 8 test images" in lines[1]
    assert [bool(_pattern(CLASS_LINE).match(line)) for line in lines[2:]] == [True, True]
    state = torch.load(tmp_path / "cifar_net.pth", weights_only=True)
    Net(2).load_state_dict(state)  # the weights fit the engine's Net


def test_export_writes_the_tutorials_program_for_a_tutorial_run(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    tutorial = store.create(asdict(TUTORIAL), name="tutorial")
    demo = store.create(asdict(make_config("tutorial", data="synthetic")), name="demo")
    args = ["--runs-dir", str(tmp_path / "runs")]
    assert export_main([tutorial.id, *args]) == 0
    assert 'torchvision.datasets.CIFAR10(root="./data"' in capsys.readouterr().out
    assert export_main([tutorial.id, *args, "--engine"]) == 0
    assert "DataLoader(" not in capsys.readouterr().out
    assert export_main([demo.id, *args]) == 0
    assert "torchvision.datasets.CIFAR10(root" not in capsys.readouterr().out


def _panel(config: dict) -> None:
    from ui.recipe_view import recipe_panel

    recipe_panel(config)


def test_the_train_page_shows_the_tutorials_program_first_and_the_engines_beside_it():
    at = AppTest.from_function(_panel, args=(asdict(TUTORIAL),), default_timeout=30)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == ["教程的代码", "引擎实际运行的代码"]
    assert "torchvision.datasets.CIFAR10" in at.code[0].value and "num_workers=2" in at.code[0].value
    assert "3.5" in at.info[0].value  # the measured difference, as docs/BENCHMARKS.md records it
    assert "DataLoader(" not in at.code[1].value
