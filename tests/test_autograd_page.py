"""The autograd page through AppTest, and its graph's legibility in Chromium."""

import json

import pytest

from tests.apptest import open_page

# the smallest font size, in CSS pixels, of the graph's labels as drawn (the SVG is scaled to its box)
SMALLEST_LABEL = """() => { const svg = document.querySelector('[data-testid="stGraphVizChart"] svg');
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const sizes = Array.from(svg.querySelectorAll('text'), t => scale * t.getAttribute('font-size'));
    return Math.min(...sizes); }"""
# code blocks whose text runs past their box (a hidden scrollbar would clip it)
CLIPPED_CODE = """() => Array.from(document.querySelectorAll('[data-testid="stCode"] pre'))
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 80))"""


def _graph(at) -> str:
    """The DOT source of the page's grad_fn graph."""
    return at.get("graphviz_chart")[0].proto.spec


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_backward_fills_gradients_that_match_finite_differences(runs_dir):
    at = open_page("pages/autograd.py")
    assert "x ** 2\\n= 4" in _graph(at)  # an intermediate node shows its value before backward too
    at.button(key="ag_backward").click().run()
    assert not at.exception
    table = _table(at, "finite difference")
    assert list(table["element"]) == ["x", "w[0]", "w[1]", "w[2]"] and table["difference"].max() < 1e-6
    assert ".grad [4, 4, 4]" in _graph(at)
    at.number_input(key="ag_times").set_value(2).run()
    at.button(key="ag_backward").click().run()
    # the code shown runs as shown: the first backward() keeps the graph for the second
    assert any(
        c.value.count("out.backward(retain_graph=True)") == 1 and c.value.endswith("\nout.backward()")
        for c in at.code
    )
    assert list(_table(at, "finite difference")[".grad"]) == [4.0, 8.0, 8.0, 8.0]


def test_a_non_scalar_output_gets_one_message_and_waits_for_a_gradient(runs_dir):
    at = open_page("pages/autograd.py")
    at.text_input(key="ag_expr").input("w * x").run()
    assert [i.value for i in at.info if "vector-Jacobian" in i.value] != [] and len(at.info) == 1
    assert at.button(key="ag_backward").disabled and not at.error
    assert "Q.backward(gradient=external_grad)" in at.info[0].value  # the autograd chapter's own call
    # no code that would fail: the call is a comment until a gradient is chosen
    assert not any("\nout.backward(" in c.value for c in at.code)
    at.toggle(key="ag_use_grad").set_value(True).run()
    at.button(key="ag_backward").click().run()
    assert not at.error and not at.exception and len(at.info) == 1
    # v is shown, in the caption and in the code, with the values used: the gradients can be checked by hand
    (shown,) = [c.value for c in at.caption if "gradient argument v" in c.value]
    v = json.loads(shown.split("`")[1])
    (code,) = [c.value for c in at.code if "out.backward(gradient=v)" in c.value]
    assert f"v = torch.tensor({v})" in code and len(v) == 3
    table = _table(at, "finite difference")
    assert table["difference"].max() < 1e-6
    # out = w * x with x = 2: w's .grad is 2·v, x's is Σ v·w
    grads = dict(zip(table["element"], table[".grad"]))
    assert [grads[f"w[{i}]"] for i in range(3)] == pytest.approx([2 * e for e in v])
    assert grads["x"] == pytest.approx(sum(e * w for e, w in zip(v, [1.0, -1.0, 0.5])))


def test_bad_expressions_and_divergence_are_explained(runs_dir):
    at = open_page("pages/autograd.py")
    at.text_input(key="ag_expr").input("w +").run()
    assert len(at.error) == 1 and "not a valid expression" in at.error[0].value
    at.select_slider(key="gd_lr").set_value(1.0).run()
    assert any("diverged" in w.value and "Lower it" in w.value for w in at.warning)


def test_empty_and_no_grad_leaves_render(runs_dir):
    at = open_page("pages/autograd.py")
    assert "b = 0.5\\nshape ()\\nrequires_grad=False: no .grad" in _graph(at)  # greyed, not dropped
    at.session_state["ag_leaves"] = {
        "edited_rows": {},
        "added_rows": [{"name": "e", "value": "[]", "requires_grad": True}],
        "deleted_rows": [],
    }
    at.text_input(key="ag_expr").input("(e * 2).sum() + b").run()
    assert not at.exception and not at.error
    at.button(key="ag_backward").click().run()
    graph = _graph(at)
    assert "e = []\\nshape (0,)\\n.grad []" in graph and '"const_b" -> ' in graph


def test_no_grad_and_detach_show_which_results_require_grad(runs_dir):
    at = open_page("pages/autograd.py")
    modes = _table(at, "is_leaf")
    assert list(modes["code"]) == [
        "y = (w * x ** 2 + b).sum()",
        "with torch.no_grad(): z = (w * x ** 2 + b).sum()",
        "d = y.detach()",
    ]
    assert list(modes["requires_grad"]) == [True, False, False]
    assert list(modes["grad_fn"]) == ["SumBackward0", "None", "None"]


def test_the_page_speaks_chinese(runs_dir):
    at = open_page("pages/autograd.py")
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "自动求导"
    assert "形状 (3,)" in _graph(at)
    assert "requires_grad=False：不计算梯度" in _graph(at)


@pytest.mark.browser
def test_the_graph_is_readable_and_no_code_is_clipped_at_1400_px(page, app_server):
    page.goto(f"{app_server['url']}/autograd")
    expression = page.get_by_role("textbox", name="Expression")
    # the first run settles first: a fresh server's first evaluation can be refused while torch loads its
    # meta kernels (core/expr.py's time limit), and typing during that run would race it
    page.locator('[data-testid="stGraphVizChart"], [data-testid="stAlert"]').first.wait_for(timeout=60_000)
    # a wide graph: three branches side by side, long sub-expressions, a greyed leaf
    expression.fill("torch.tanh(w @ w * x) + (w.exp() * x ** 2).mean() + b * torch.sigmoid(x)")
    expression.press("Enter")
    graph = page.locator('[data-testid="stGraphVizChart"] svg')
    graph.filter(has_text="TanhBackward0").wait_for(timeout=30_000)
    page.get_by_role("button", name="backward()").click()
    # w's gradient (a greyed leaf's "no .grad" line is there before backward)
    graph.filter(has_text=".grad [").wait_for(timeout=30_000)
    assert page.viewport_size["width"] == 1400
    assert page.evaluate(SMALLEST_LABEL) >= 12
    assert page.evaluate(CLIPPED_CODE) == []
    assert page.locator('[data-testid="stException"]').count() == 0
