"""core.walkthrough: the chapter 3 cells run as written, on the tutorial's LeNet (the registry's
`lenet`), print in the learner's language, and teach what they say."""

from __future__ import annotations

import contextlib
import io

import torch

from core.models import LeNet
from core.walkthrough import (
    TRAINING_STEPS,
    lenet_source,
    net_cells,
    resnet18_cells,
    resnet18_walkthrough,
    run_cells,
)


def _printed(cells) -> list[str]:
    namespace: dict = {}
    outputs = []
    for cell in cells:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(cell.code, namespace)
        outputs.append(out.getvalue())
    return outputs


def test_each_cell_shows_what_its_code_prints_and_the_class_is_the_registrys_lenet():
    cells = net_cells(input_seed=3)
    assert run_cells(cells) == _printed(cells)
    namespace: dict = {}
    run_cells(cells[:3], namespace)
    shown, registry = namespace["net"], LeNet()
    registry.load_state_dict(shown.state_dict())  # same parameters, same shapes
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(shown(x), registry(x))  # and the same forward
    assert "torch.manual_seed(3)" in next(c for c in cells if c.key == "forward").code
    assert {key for _step, key in TRAINING_STEPS} <= {c.key for c in cells}


def test_the_cells_teach_what_they_say():
    cells = net_cells()
    out = dict(zip([c.key for c in cells], run_cells(cells)))
    assert out["net"].startswith("Net(\n  (conv1): Conv2d(1, 6, kernel_size=(5, 5)")
    # what the tutorial prints: len(params) and conv1's weight
    assert out["parameters"].splitlines()[:2] == ["10", "torch.Size([6, 1, 5, 5])"]
    assert out["parameters"].splitlines()[-1].split() == ["total", "61,706"]
    assert "torch.randn(1, 1, 32, 32)" in next(c for c in cells if c.key == "forward").code
    assert out["shapes"].splitlines()[-1].split() == ["flatten", "(1,", "400)", "=", "400"]
    assert out["forward"].endswith("grad_fn=<AddmmBackward0>)\n")
    chain = [line.split()[1] for line in out["grad-fn"].splitlines()]
    assert chain[:2] == ["MseLossBackward0", "AddmmBackward0"] and chain[-1] == "ConvolutionBackward0"
    backprop = out["backprop"].splitlines()
    assert backprop[1] == "None" and backprop[3].startswith("tensor([")
    for key in ("manual-sgd", "optim-sgd"):
        before, after = (float(line.split()[-1]) for line in out[key].splitlines())
        assert after < before  # one step downhill lowers the loss


def test_another_seed_draws_another_input():
    first = run_cells(net_cells(1))
    second = run_cells(net_cells(2))
    forward = [c.key for c in net_cells()].index("forward")
    assert first[:forward] == second[:forward] and first[forward] != second[forward]


def test_resnet18_runs_with_the_weights_its_code_names_and_is_timed_after_a_warm_up():
    r = resnet18_walkthrough(pretrained=False)
    assert r.fallback_reason is None
    assert "resnet18(weights=None)" in r.cells[0].code
    assert r.outputs == _printed(r.cells)
    assert r.graph_nodes > 50 and set(r.seconds) == {"rn-forward", "rn-backward", "rn-step"}
    assert all(s > 0 for s in r.seconds.values())
    assert sum(m["parameters"] for m in r.modules) == 11_689_512
    assert "ResNet18_Weights.DEFAULT" in resnet18_cells(True)[0].code


def test_the_class_comments_are_measured_shapes_and_follow_the_language():
    english, chinese = lenet_source("en"), lenet_source("zh")
    for shape in (
        "C1: (N, 6, 28, 28)",
        "S2: (N, 6, 14, 14)",
        "C3: (N, 16, 10, 10)",
        "S4: (N, 16, 5, 5)",
        "(N, 400)",
    ):
        assert shape in english and shape in chinese
    assert english != chinese and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    # the code is the same in both: only comments differ
    strip = lambda text: [line.split("#")[0].rstrip() for line in text.splitlines()]  # noqa: E731
    assert strip(english) == strip(chinese)


def test_in_chinese_the_cells_print_the_tutorials_chinese_labels():
    cells = net_cells(lang="zh")
    out = dict(zip([c.key for c in cells], run_cells(cells)))
    assert out["backprop"].splitlines()[0] == "conv1.bias.grad 反向传播前"
    assert out["backprop"].splitlines()[2] == "conv1.bias.grad 反向传播后"
    english = dict(zip([c.key for c in cells], run_cells(net_cells())))
    assert out["forward"] == english["forward"]  # the numbers do not depend on the language
