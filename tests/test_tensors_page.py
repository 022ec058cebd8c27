"""The tensor playground through AppTest: create → operate → inspect."""

from tests.apptest import open_page


def test_create_operate_inspect(runs_dir):
    at = open_page("pages/tensors.py")
    assert any("No tensors yet" in i.value for i in at.info)
    at.button(key="t_create").click().run()  # a = torch.rand(2, 3)
    assert any(c.value == "a = torch.rand(2, 3, dtype=torch.float32)" for c in at.code)
    at.radio(key="t_source").set_value("a list").run()
    at.text_input(key="t_literal").input("[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]").run()
    at.button(key="t_create").click().run()  # b = torch.tensor(...)
    assert set(at.session_state["tensors"]) == {"a", "b"}
    at.text_input(key="t_expr").input("a @ b").run()
    assert not at.exception and any(c.value == "result = a @ b" for c in at.code)
    result = at.session_state["tensors"]["a"].float() @ at.session_state["tensors"]["b"].float()
    assert result.shape == (2, 2)
    at.text_input(key="t_expr").input("b @ a @ b @ b").run()
    assert any("matmul needs" in e.value for e in at.error)
    at.selectbox(key="t_inspect").set_value("b").run()
    attrs = next(df.value for df in at.dataframe if "attribute" in df.value.columns)
    assert dict(zip(attrs["attribute"], attrs["value"]))["shape"] == "(3, 2)"


def test_hostile_text_is_refused_on_the_page(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()
    at.text_input(key="t_expr").input("a.__class__.__mro__").run()
    assert not at.exception and any("private" in e.value for e in at.error)
    at.text_input(key="t_expr").input("torch.zeros(100000, 100000)").run()
    assert any("limit here is 10,000,000" in e.value for e in at.error)


def test_in_place_keeps_the_storage(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()
    before = at.session_state["tensors"]["a"].data_ptr()
    at.button(key="t_inplace_do").click().run()
    assert at.session_state["tensors"]["a"].data_ptr() == before
    assert any("same storage" in i.value for i in at.info)
