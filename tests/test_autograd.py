import pytest
import torch

from core.autograd import (
    FUNCTIONS_2D,
    backward,
    build_graph,
    descend,
    finite_difference,
    forward,
    make_leaf,
    surface,
)
from core.expr import ExprError


@pytest.fixture
def leaves():
    return {
        "x": make_leaf("x", "2.0"),
        "w": make_leaf("w", "[1.0, -1.0, 0.5]"),
        "b": make_leaf("b", "0.5", False),
    }


def test_the_graph_has_the_grad_fn_nodes_and_the_leaves(leaves):
    out = forward("(w * x ** 2 + b).sum()", leaves)
    g = build_graph(out, leaves)
    ops = sorted(label for i, label in g.nodes.items() if g.kinds[i] == "op")
    assert ops == ["AddBackward0", "MulBackward0", "PowBackward0", "SumBackward0"]
    labels = [label for i, label in g.nodes.items() if g.kinds[i] == "leaf"]
    assert any(label.startswith("x = 2") for label in labels) and any(
        label.startswith("w = [1, -1, 0.5]") for label in labels
    )
    assert not any(label.startswith("b") for label in labels)  # no grad wanted: not in the graph
    assert "digraph autograd" in g.dot() and '-> "output"' in g.dot()


@pytest.mark.parametrize(
    "text",
    [
        "(w * x ** 2 + b).sum()",
        "(w.exp() * x).mean()",
        "torch.tanh(w @ w * x)",
        "(w / (x + 1)).max()",
        "torch.sigmoid(w).prod() * x ** 3",
    ],
)
def test_backward_matches_central_finite_differences(leaves, text):
    backward(forward(text, leaves))
    for name in ("x", "w"):
        assert torch.allclose(leaves[name].grad, finite_difference(text, leaves, name), atol=1e-6)
    g = build_graph(forward(text, leaves), leaves)
    assert all("\\ngrad " in label for i, label in g.nodes.items() if g.kinds[i] == "leaf")


def test_gradients_accumulate_until_zeroed(leaves):
    backward(forward("(w * x).sum()", leaves))
    backward(forward("(w * x).sum()", leaves))
    assert leaves["w"].grad.tolist() == [4.0, 4.0, 4.0]  # 2 + 2: backward adds into .grad


def test_a_non_scalar_output_needs_a_gradient_argument(leaves):
    out = forward("w * x", leaves)
    with pytest.raises(ExprError, match="needs a gradient argument of shape \\(3,\\)"):
        backward(out)
    v = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    backward(out, v)
    assert torch.allclose(leaves["x"].grad, finite_difference("w * x", leaves, "x", v))


def test_an_expression_without_grad_is_explained(leaves):
    with pytest.raises(ExprError, match="Nothing in this expression requires grad"):
        forward("b * 2", leaves)


def test_division_by_zero_gives_inf_not_a_crash(leaves):
    out = forward("(w / (x - 2)).sum()", leaves)
    assert not torch.isfinite(out)


def test_descent_converges_with_a_small_lr_and_diverges_with_a_large_one():
    bowl = FUNCTIONS_2D["quadratic bowl"]
    for name in ("SGD", "SGD + momentum", "Adam"):
        assert descend(bowl, (1.5, 1.0), name, 0.01, 300)["loss"][-1] < 0.1
    blown = descend(bowl, (1.5, 1.0), "SGD", 0.3, 100)
    assert blown["diverged"] and len(blown["loss"]) < 100
    assert len(surface(bowl, (-2, 2), (-2, 2), 10)["z"]) == 10


def test_the_lenet_walkthrough_follows_the_tutorial():
    from core.walkthrough import lenet_walkthrough

    steps = {s.title: s for s in lenet_walkthrough()}
    params = steps["Its learnable parameters"].output.splitlines()
    assert params[:2] == ["10", "torch.Size([6, 1, 5, 5])"]
    assert steps["The loss's graph, a few steps back"].output.splitlines() == [
        "MseLossBackward0",
        "AddmmBackward0",
        "AccumulateGrad",
    ]
    assert steps["Backprop"].output.startswith("before backward: None")  # zero_grad sets grads to None
    for title in (
        "Update the weights by hand: weight = weight - learning_rate * gradient",
        "The same with torch.optim",
    ):
        before, after = (float(line.split()[-1]) for line in steps[title].output.splitlines())
        assert after < before  # one step downhill lowers the loss


def test_resnet18_runs_forward_backward_and_a_step():
    from core.walkthrough import resnet18_demo

    r = resnet18_demo(pretrained=False)
    assert r["note"] == "random initialisation" and r["graph_nodes"] > 50
    assert {m["module"] for m in r["modules"]} >= {"conv1", "layer4", "fc"}
    assert sum(m["parameters"] for m in r["modules"]) == 11_689_512
    assert all(s > 0 for s in r["seconds"].values())
