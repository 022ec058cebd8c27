"""The autograd page through AppTest."""

from tests.apptest import open_page


def test_backward_fills_gradients_that_match_finite_differences(runs_dir):
    at = open_page("pages/autograd.py")
    at.button(key="ag_backward").click().run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "finite difference" in df.value.columns)
    assert list(table["leaf"]) == ["x", "w"] and table["max |difference|"].max() < 1e-6
    at.number_input(key="ag_times").set_value(2).run()
    at.button(key="ag_backward").click().run()
    assert any(c.value.count("out.backward()") == 2 for c in at.code)


def test_bad_expressions_and_divergence_are_explained(runs_dir):
    at = open_page("pages/autograd.py")
    at.text_input(key="ag_expr").input("w * x").run()
    assert any("vector-Jacobian" in i.value for i in at.info)
    at.text_input(key="ag_expr").input("w +").run()
    assert any("not a valid expression" in e.value for e in at.error)
    at.select_slider(key="gd_lr").set_value(1.0).run()
    assert any("diverged" in w.value and "Lower it" in w.value for w in at.warning)


def test_the_network_walkthrough_and_resnet18_render(runs_dir):
    at = open_page("pages/autograd.py")
    assert any("torch.Size([6, 1, 5, 5])" in c.value for c in at.code)
    at.button(key="rn_run").click().run()
    assert not at.exception
    assert any(m.label == "autograd graph nodes" for m in at.metric)
    modules = next(df.value for df in at.dataframe if "module" in df.value.columns)
    assert "layer4" in set(modules["module"])
