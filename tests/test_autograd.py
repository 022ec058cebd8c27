import pytest
import torch

from core.autograd import (
    FUNCTIONS_2D,
    AutogradError,
    backward,
    build_graph,
    descend,
    finite_difference,
    format_value,
    forward,
    grad_modes,
    gradient_check,
    make_leaf,
    surface,
)
from core.expr import evaluate


@pytest.fixture
def leaves():
    return {
        "x": make_leaf("x", "2.0"),
        "w": make_leaf("w", "[1.0, -1.0, 0.5]"),
        "b": make_leaf("b", "0.5", False),
    }


def _labels(graph, kind: str) -> list[str]:
    """The label lines of every node of one kind, each node's lines joined by " | "."""
    return [" | ".join(lines) for i, lines in graph.labels().items() if graph.nodes[i].kind == kind]


def test_the_graph_has_the_grad_fn_nodes_the_leaves_and_the_no_grad_leaf_greyed(leaves):
    g = build_graph(forward("(w * x ** 2 + b).sum()", leaves), leaves)
    ops = sorted(label.split(" | ")[0] for label in _labels(g, "op"))
    assert ops == ["AddBackward0", "MulBackward0", "PowBackward0", "SumBackward0"]
    assert sorted(_labels(g, "leaf")) == ["w = [1, -1, 0.5] | shape (3,)", "x = 2 | shape ()"]
    # b has requires_grad off: autograd never sees it, the graph draws it greyed into the + that used it
    assert _labels(g, "constant") == ["b = 0.5 | shape () | requires_grad=False: no .grad"]
    add = next(i for i, n in g.nodes.items() if n.kind == "op" and "AddBackward0" in g.labels()[i])
    assert ("const_b", add) in g.edges
    dot = g.dot()
    assert "digraph autograd" in dot and '-> "output"' in dot and "fontsize=14" in dot
    assert '"const_b" -> ' in dot and "dashed" in dot


def test_the_graph_labels_are_translated_then_filled_in(leaves):
    g = build_graph(forward("(w * x).sum()", leaves), leaves)
    dot = g.dot(lambda template: {"shape {shape}": "形状 {shape}"}.get(template, template))
    assert "形状 (3,)" in dot and "shape (3,)" not in dot


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("(w * x ** 2 + b).sum()", "x ** 2"),
        ("(w * x ** 2 + b).sum()", "w * x ** 2"),
        ("(w * x ** 2 + b).sum()", "w * x ** 2 + b"),
        ("torch.tanh(w @ w * x)", "w @ w"),
        ("(w.exp() * x).mean()", "w.exp()"),
        ("torch.sigmoid(w).prod() * x ** 3", "torch.sigmoid(w).prod()"),
    ],
)
def test_an_intermediate_node_shows_the_value_of_its_sub_expression(leaves, text, sub):
    traced = forward(text, leaves)
    step = next(s for s in traced.steps.values() if s.text == sub)
    assert torch.equal(step.value, evaluate(sub, leaves).detach())
    label = next(lines for lines in build_graph(traced, leaves).labels().values() if lines[1] == sub)
    assert label[0] == type(step.fn).__name__  # the grad_fn class on top
    assert label[2] == "= " + format_value(evaluate(sub, leaves))


def test_a_long_sub_expression_is_cut_and_large_values_are_previewed():
    leaves = {"v": make_leaf("v", str([float(i) for i in range(10)]))}
    text = "(v * 2 + v * 3 + v * 4 + v * 5 + v * 6).sum()"
    texts = [s.text for s in forward(text, leaves).steps.values()]
    assert max(map(len, texts)) == 28 and any(t.endswith("…") for t in texts)
    assert format_value(leaves["v"]) == "[0, 1, 2, 3, …]"


def test_empty_and_no_grad_leaves_render():
    leaves = {"e": make_leaf("e", "[]"), "k": make_leaf("k", "[[1.0, 2.0]]", False)}
    traced = forward("(e * 2).sum() + (k * k).sum()", leaves)
    backward(traced.out)
    g = build_graph(traced, leaves)
    assert "e = [] | shape (0,) | .grad []" in _labels(g, "leaf")
    assert _labels(g, "constant") == ["k = [1, 2] | shape (1, 2) | requires_grad=False: no .grad"]
    assert gradient_check("(e * 2).sum() + (k * k).sum()", leaves) == []  # no element to check
    assert leaves["k"].grad is None


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
    traced = forward(text, leaves)
    backward(traced.out)
    for name in ("x", "w"):
        assert torch.allclose(leaves[name].grad, finite_difference(text, leaves, name), atol=1e-6)
    assert all(".grad " in label for label in _labels(build_graph(traced, leaves), "leaf"))
    rows = gradient_check(text, leaves)
    assert [r["element"] for r in rows] == ["x", "w[0]", "w[1]", "w[2]"]
    assert max(r["difference"] for r in rows) < 1e-6


def test_the_gradient_check_names_every_element_and_counts_repeated_calls():
    leaves = {"m": make_leaf("m", "[[1.0, 2.0], [3.0, 4.0]]")}
    for _call in range(2):
        backward(forward("(m * m).sum()", leaves).out)
    rows = gradient_check("(m * m).sum()", leaves, times=2)
    assert [r["element"] for r in rows] == ["m[0, 0]", "m[0, 1]", "m[1, 0]", "m[1, 1]"]
    assert [r[".grad"] for r in rows] == [4.0, 8.0, 12.0, 16.0]  # 2 · 2m: the two calls added up
    assert all(r["finite difference"] == pytest.approx(r[".grad"]) for r in rows)


def test_gradients_accumulate_until_zeroed(leaves):
    backward(forward("(w * x).sum()", leaves).out)
    backward(forward("(w * x).sum()", leaves).out)
    assert leaves["w"].grad.tolist() == [4.0, 4.0, 4.0]  # 2 + 2: backward adds into .grad


def test_a_non_scalar_output_needs_a_gradient_argument(leaves):
    out = forward("w * x", leaves).out
    with pytest.raises(AutogradError, match="needs a `gradient` argument of its shape \\(3,\\)") as raised:
        backward(out)
    assert raised.value.template.startswith("`out` has {n} elements") and raised.value.values["n"] == 3
    v = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    backward(out, v)
    assert torch.allclose(leaves["x"].grad, finite_difference("w * x", leaves, "x", v))


def test_an_expression_without_grad_is_explained(leaves):
    with pytest.raises(AutogradError, match="Nothing in this expression requires grad"):
        forward("b * 2", leaves)


def test_division_by_zero_gives_inf_not_a_crash(leaves):
    out = forward("(w / (x - 2)).sum()", leaves).out
    assert not torch.isfinite(out)


def test_no_grad_and_detach_give_results_without_grad(leaves):
    rows = grad_modes("(w * x).sum()", leaves)
    assert [r["code"] for r in rows] == [
        "y = (w * x).sum()",
        "with torch.no_grad(): z = (w * x).sum()",
        "d = y.detach()",
    ]
    assert [(r["requires_grad"], r["grad_fn"], r["is_leaf"]) for r in rows] == [
        (True, "SumBackward0", False),
        (False, "None", True),
        (False, "None", True),
    ]
    assert {r["value"] for r in rows} == {"1"}


def test_descent_converges_with_a_small_lr_and_diverges_with_a_large_one():
    bowl = FUNCTIONS_2D["quadratic bowl"]
    for name in ("SGD", "SGD + momentum", "Adam"):
        assert descend(bowl, (1.5, 1.0), name, 0.01, 300)["loss"][-1] < 0.1
    blown = descend(bowl, (1.5, 1.0), "SGD", 0.3, 100)
    assert blown["diverged"] and len(blown["loss"]) < 100
    assert len(surface(bowl, (-2, 2), (-2, 2), 10)["z"]) == 10
