"""core.walkthrough: the chapter 3 cells run as written, on the registry's Net, and teach what they say."""

from __future__ import annotations

import contextlib
import inspect
import io

from core.models import Net
from core.walkthrough import TRAINING_STEPS, net_cells, resnet18_cells, resnet18_walkthrough, run_cells


def _printed(cells) -> list[str]:
    namespace: dict = {}
    outputs = []
    for cell in cells:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(cell.code, namespace)
        outputs.append(out.getvalue())
    return outputs


def test_each_cell_shows_what_its_code_prints_and_the_class_is_the_registrys():
    cells = net_cells(input_seed=3)
    assert run_cells(cells) == _printed(cells)
    assert next(c for c in cells if c.key == "class").code == inspect.getsource(Net).strip()
    assert "torch.manual_seed(3)" in next(c for c in cells if c.key == "forward").code
    assert {key for _step, key in TRAINING_STEPS} <= {c.key for c in cells}


def test_the_cells_teach_what_they_say():
    cells = net_cells()
    out = dict(zip([c.key for c in cells], run_cells(cells)))
    assert out["net"].startswith("Net(\n  (conv1): Conv2d(3, 6, kernel_size=(5, 5)")
    assert out["parameters"].splitlines()[:2] == ["10", "torch.Size([6, 3, 5, 5])"]
    assert out["parameters"].splitlines()[-1].split() == ["total", "62,006"]
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
    assert first[:4] == second[:4] and first[4] != second[4]


def test_resnet18_runs_with_the_weights_its_code_names_and_is_timed_after_a_warm_up():
    r = resnet18_walkthrough(pretrained=False)
    assert r.fallback_reason is None
    assert "resnet18(weights=None)" in r.cells[0].code
    assert r.outputs == _printed(r.cells)
    assert r.graph_nodes > 50 and set(r.seconds) == {"rn-forward", "rn-backward", "rn-step"}
    assert all(s > 0 for s in r.seconds.values())
    assert sum(m["parameters"] for m in r.modules) == 11_689_512
    assert "ResNet18_Weights.DEFAULT" in resnet18_cells(True)[0].code
