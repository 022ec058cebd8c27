"""The tensor playground through AppTest: create → operate → inspect."""

import json
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, open_page


def create_list(at, values: str = "[[1, 2], [3, 4]]"):
    """Create the next tensor from a list literal, as a user would (a = torch.tensor([[1, 2], [3, 4]]))."""
    at.radio(key="t_source").set_value("a list").run()
    at.text_input(key="t_literal").input(values).run()
    at.button(key="t_create").click().run()
    assert not at.exception


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
    # what the page prints for the result is what Python prints for a @ b, with its shape beside
    tensors = at.session_state["tensors"]
    assert any(c.value == repr(tensors["a"] @ tensors["b"]) for c in at.code)
    assert any(c.value == "shape (2, 2) · dtype torch.float32" for c in at.caption)
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


def test_in_place_on_an_int_tensor_runs_what_its_button_says(runs_dir):
    at = open_page("pages/tensors.py")
    create_list(at)  # the tutorial's a = torch.tensor([[1, 2], [3, 4]]), int64
    button = at.button(key="t_inplace_do")
    assert button.label == "a.add_(1)"
    button.click().run()
    assert not at.exception and not at.error
    assert at.session_state["tensors"]["a"].tolist() == [[2, 3], [4, 5]]
    assert any("a.add_(1): data_ptr" in i.value and "same storage" in i.value for i in at.info)
    at.number_input(key="t_inplace_amount").set_value(0.5).run()
    at.button(key="t_inplace_do").click().run()  # int64 cannot hold 2.5: a message, a unchanged
    assert not at.exception and any(
        "in-place operations keep the tensor's dtype" in e.value for e in at.error
    )
    assert at.session_state["tensors"]["a"].tolist() == [[2, 3], [4, 5]]


def test_mul_versus_matmul_opens_without_errors_on_the_default_tensors(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()  # a = torch.rand(2, 3)
    at.button(key="t_create").click().run()  # b = torch.rand(2, 3)
    create_list(at)  # c, int64 2×2
    assert not at.exception and not at.error
    assert not any("Not possible" in i.value for i in at.info)
    # each side picked a right-hand tensor that works: a * b element-wise, a @ b.T
    codes = [c.value for c in at.code]
    assert (
        "a * b   # same as torch.mul(a, b)" in codes and "a @ b.T   # same as torch.matmul(a, b.T)" in codes
    )
    # a pair that does not fit is explained, not an error
    right = next(s for s in at.selectbox if s.key.startswith("t_mul_right_matmul"))
    right.set_value("c").run()
    assert not at.exception and not at.error
    assert any("Not possible" in i.value and "matmul needs a's columns (3)" in i.value for i in at.info)


def test_any_shape_renders(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()
    for text, shown in [
        ("torch.ones(0, 2, 2)", "result is empty: shape (0, 2, 2)"),
        ("torch.ones(3, 0, 4)", "result is empty: shape (3, 0, 4)"),
        ("torch.tensor(3.5)", None),
        ("torch.ones(2, 3, 4, 5)", "Showing result[0, 0]"),
    ]:
        at.text_input(key="t_expr").input(text).run()
        assert not at.exception and not at.error, text
        if shown is None:  # 0-d: one value
            assert any(m.value == "3.5" for m in at.metric)
        else:
            assert any(shown in c.value for c in at.caption), text


def test_a_huge_tensor_shows_a_capped_preview_quickly(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()
    at.text_input(key="t_expr").input("torch.arange(10)").run()
    started = time.monotonic()
    at.text_input(key="t_expr").input("torch.arange(500000)").run()
    took = time.monotonic() - started
    assert not at.exception and not at.error
    assert any(c.value == repr(torch.arange(500000)) for c in at.code)  # torch's own summary
    assert any("The first 1×1,000 of 1×500,000 values" in c.value for c in at.caption)
    sizes = [df.value.size for df in at.dataframe]
    assert 1_000 in sizes and max(sizes) <= 1_000  # no table lists more than the preview
    assert took < 3  # the whole rerun, on a shared CPU; before the preview it took tens of seconds


def test_in_chinese_the_page_and_its_refusals_are_chinese(runs_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.switch_page("pages/tensors.py").run()
    assert not at.exception
    assert at.title[0].value == "张量"
    assert any(i.value.startswith("还没有张量") for i in at.info)
    assert at.button(key="t_create").label == "创建"
    at.button(key="t_create").click().run()  # a = torch.rand(2, 3)
    assert [t.label for t in at.tabs] == ["表达式", "* 与 @", "就地操作", "NumPy 桥"]
    attrs = next(df.value for df in at.dataframe if "attribute" in df.value.columns)
    assert dict(zip(attrs["attribute"], attrs["value"]))["形状 (shape)"] == "(2, 3)"
    # a refusal: its sentence and the words inside it ("a str") are Chinese, the code stays as typed
    at.text_input(key="t_expr").input("a + 'x'").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["+ 不能用于 str 类型的值：它只作用于张量和数字。"]
    at.text_input(key="t_expr").input("a.__class__").run()
    assert [e.value for e in at.error] == ["不允许使用“\\_\\_class\\_\\_”：以 \\_ 开头的名字是私有的。"]


def zh_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.switch_page("pages/tensors.py").run()
    assert not at.exception
    return at


def test_save_keeps_the_result_that_is_shown(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()  # a
    at.text_input(key="t_expr").input("torch.rand(2, 3)").run()
    printed = lambda: next(c.value for c in at.code if c.value.startswith("tensor("))  # noqa: E731
    shown = printed()  # what Python prints for the result
    at.selectbox(key="t_inspect").set_value("a").run()  # an unrelated rerun draws nothing new
    assert printed() == shown
    at.button(key="t_save").click().run()
    saved = at.session_state["tensors"]["b"].clone()
    assert not at.exception and repr(saved) == shown
    # an in-place expression runs once, not once per rerun
    at.text_input(key="t_expr").input("b.add_(1)").run()
    at.run()
    assert torch.equal(at.session_state["tensors"]["b"], saved + 1)


def test_tiny_values_are_listed_in_a_general_format(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()
    at.text_input(key="t_expr").input("torch.full((2, 2), 4.2e-45)").run()
    table = next(df for df in at.dataframe if df.value.shape == (2, 2))  # the result's values
    assert {c["type_config"]["format"] for c in json.loads(table.proto.columns).values()} == {"%.4g"}
    at.text_input(key="t_expr").input("torch.arange(4)").run()  # whole numbers stay as they are
    table = next(df for df in at.dataframe if df.value.shape == (1, 4))
    assert not json.loads(table.proto.columns)


def test_a_replaced_tensor_gets_a_right_hand_side_that_fits(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()  # a 2×3
    at.button(key="t_create").click().run()  # b 2×3
    assert not any("Not possible" in i.value for i in at.info)
    at.button(key="t_del_b").click().run()
    create_list(at, "[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]")  # b again, now 3×2: as many tensors as before
    assert set(at.session_state["tensors"]) == {"a", "b"}
    assert not at.exception and not at.error
    assert not any("Not possible" in i.value for i in at.info)
    codes = [c.value for c in at.code]
    assert (
        "a * b.T   # same as torch.mul(a, b.T)" in codes and "a @ b   # same as torch.matmul(a, b)" in codes
    )


def test_save_as_offers_a_free_name_and_asks_before_replacing(runs_dir):
    at = open_page("pages/tensors.py")
    at.button(key="t_create").click().run()  # a
    at.text_input(key="t_expr").input("a * 2").run()
    at.button(key="t_save").click().run()  # b
    name = next(t for t in at.text_input if t.key.startswith("t_save_name"))
    assert name.value == "c" and at.button(key="t_save").label == "Save" and not at.warning
    name.input("a").run()
    assert [w.value for w in at.warning] == ["`a` already exists: saving replaces it."]
    assert at.button(key="t_save").label == "Replace a"
    before = at.session_state["tensors"]["a"].clone()
    at.button(key="t_save").click().run()
    assert torch.equal(at.session_state["tensors"]["a"], before * 2)


def test_empty_is_a_creation_function_with_a_caption(runs_dir):
    at = zh_page()
    at.selectbox(key="t_kind").set_value("empty").run()
    assert any(c.value == "未初始化：值是内存里残留的任意数。" for c in at.caption)
    at.button(key="t_create").click().run()
    assert any(c.value == "a = torch.empty(2, 3, dtype=torch.float32)" for c in at.code)
    assert at.session_state["tensors"]["a"].shape == (2, 3)


def test_requires_grad_has_a_line_of_its_own(runs_dir):
    at = open_page("pages/tensors.py")
    # the innermost column holding the checkbox is the whole form's, not a quarter of a row that cut its
    # label to "requires_gr…"
    holding = [c for c in at.columns if any(b.key == "t_grad" for b in c.checkbox)]
    assert holding and all(any(b.key == "t_create" for b in c.button) for c in holding)


def test_in_chinese_errors_and_code_comments_are_chinese(runs_dir):
    at = zh_page()
    at.button(key="t_create").click().run()  # a = torch.rand(2, 3)
    for text, message in [
        ("a.view(-1, 4)", "a 有 6 个元素，无法排成 (-1, 4)：6 不是 4 的倍数。"),
        ("a.reshape(4, 2)", "a 有 6 个元素，无法排成 (4, 2)：这个形状要 8 个元素。"),
        ("a.item()", "item() 只能用于只有一个元素的张量，而 a 有 6 个元素。"),
        ("a b", "这不是合法的表达式：Python 在第 3 列读不下去。"),
    ]:
        at.text_input(key="t_expr").input(text).run()
        assert [e.value for e in at.error] == [message], text
    codes = [c.value for c in at.code]
    assert "a * a   # 等同于 torch.mul(a, a)" in codes
    assert "a_np = a.numpy()   # 共享内存：True\na.add_(1)   # a_np 也跟着变\na_np += 1   # a 也一样" in codes
    at.radio(key="t_source").set_value("a numpy array").run()
    at.button(key="t_create").click().run()
    assert any(c.value.endswith("b = torch.from_numpy(b_np)   # 与 b_np 共享内存") for c in at.code)


def test_the_heatmap_labels_whole_numbers_and_plain_ticks(runs_dir):
    at = open_page("pages/tensors.py")
    create_list(at)  # int64
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]  # Inspect's a
    assert heat["texttemplate"] == "%{z:d}" and heat["colorbar"]["exponentformat"] == "e"
    at.text_input(key="t_expr").input("a * 1e-12").run()
    heats = [json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")]
    heat = next(h for h in heats if h["z"][0][0] == pytest.approx(1e-12))
    assert heat["texttemplate"] == "%{z:.3~g}" and heat["colorbar"]["exponentformat"] == "e"


def test_a_tensor_returned_as_it_is_is_not_called_changed_in_place(runs_dir):
    """Issue 21: `a` and `a.to('cpu')` return a itself, unchanged; only `a.add_(1)` changed it in place."""
    at = open_page("pages/tensors.py")
    create_list(at)  # a = torch.tensor([[1, 2], [3, 4]]) on the CPU
    at.text_input(key="t_expr").input("a").run()
    captions = [c.value for c in at.caption]
    assert not any("in place" in c for c in captions)
    assert any("a itself: the same tensor, not a copy" in c for c in captions)
    at.text_input(key="t_expr").input("a.to('cpu')").run()
    captions = [c.value for c in at.caption]
    assert not any("in place" in c for c in captions)
    assert any("nothing needed to change" in c and "`.to()`" in c for c in captions)
    at.text_input(key="t_expr").input("a.add_(1)").run()
    assert any("a itself: the expression changed it in place" in c.value for c in at.caption)
    at.text_input(key="t_expr").input("a.to('cpu', torch.double)").run()  # a new tensor: no such caption
    assert not any("itself" in c.value for c in at.caption)


def test_the_numpy_bridge_follows_an_in_place_transpose(runs_dir):
    """Issue 21: after `a.t_()` the bridge shows what `a.numpy()` gives, not the old view of the memory."""
    at = open_page("pages/tensors.py")
    create_list(at, "[[2, 3], [4, 5]]")
    assert any(c.value == "array([[2, 3],\n       [4, 5]])" for c in at.code)  # the bridge's array
    at.text_input(key="t_expr").input("a.t_()").run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert "array([[2, 4],\n       [3, 5]])" in codes
    assert "array([[2, 3],\n       [4, 5]])" not in codes
    assert "tensor([[2, 4],\n        [3, 5]])" in codes  # the torch side beside it
