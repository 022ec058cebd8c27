"""Tensors: the tutorial's first chapter, hands-on. Create, inspect, operate, and the numpy bridge."""

import streamlit as st
import torch

from core.devices import list_devices
from core.expr import ExprError, evaluate, printed
from core.tensors import (
    DTYPES,
    FACTORIES,
    bridgeable,
    factory,
    fits,
    from_literal,
    from_numpy,
    next_name,
    operands,
    valid_name,
)
from ui import through_navigation
from ui.tensor_view import MARKDOWN, attributes_table, show_error, show_tensor

through_navigation()

st.title("🧊 Tensors")
st.caption(
    "The tutorial's *Tensors* chapter: tensors are like numpy arrays that can also live on a GPU and "
    "track gradients. Every action shows the PyTorch code that does the same."
)

tensors: dict[str, torch.Tensor] = st.session_state.setdefault("tensors", {})
arrays: dict = st.session_state.setdefault("arrays", {})  # tensors made with torch.from_numpy → their arrays


def remember(name: str, created, message: str = "") -> None:
    tensors[name] = created.tensor
    if created.array is not None:
        arrays[name] = created.array
    st.session_state["t_code"] = created.code


# --- create ------------------------------------------------------------------------------------------
st.subheader("1 · Create")
left, right = st.columns([3, 2])
with left:
    source = st.radio("From", ["a function", "a list", "a numpy array"], horizontal=True, key="t_source")
    c = st.columns(3)
    name = c[0].text_input("Name", value=next_name(set(tensors)), key=f"t_name_{len(tensors)}")
    devices = [d.name for d in list_devices()]
    device = c[2].selectbox("Device", devices, key="t_device") if source != "a numpy array" else "cpu"
    try:
        if source == "a function":
            kind = c[1].selectbox("Function", FACTORIES, key="t_kind")
            k = st.columns(4)
            dtype = k[0].selectbox("dtype", list(DTYPES), key="t_dtype")
            grad = k[1].checkbox("requires_grad", key="t_grad")
            if kind in ("arange", "linspace"):
                start = k[2].number_input("start", value=0.0, key="t_start")
                end = k[3].number_input("end", value=5.0, key="t_end")
                steps = st.number_input("steps", 1, 10_000_000, 5, key="t_steps") if kind == "linspace" else 5
                args = dict(start=start, end=end, steps=steps)
            else:
                shape = k[2].text_input(
                    "shape" if kind != "eye" else "size",
                    "2, 3" if kind != "eye" else "3",
                    key=f"t_shape_{kind}",
                )
                fill = k[3].number_input("fill value", value=7.0, key="t_fill") if kind == "full" else 0.0
                args = dict(shape=shape, fill=fill)
            make = lambda: factory(name, kind, dtype=dtype, device=device, requires_grad=grad, **args)
        else:
            text = st.text_input(
                "Values (a list literal: read as data, never run)", "[[1, 2], [3, 4]]", key="t_literal"
            )
            make = (
                (lambda: from_numpy(name, text))
                if source == "a numpy array"
                else (lambda: from_literal(name, text, device=device))
            )
        if st.button("Create", type="primary", key="t_create"):
            created = make()
            remember(valid_name(name), created)
            st.rerun()
    except ExprError as e:
        show_error(str(e))
    if st.session_state.get("t_code"):
        st.code(st.session_state["t_code"], language="python")
with right:
    if tensors:
        st.markdown("**Your tensors**")
        for n, t in list(tensors.items()):
            row = st.columns([4, 1])
            row[0].markdown(f"`{n}` · {tuple(t.shape)} · {str(t.dtype).replace('torch.', '')} · {t.device}")
            if row[1].button("✕", key=f"t_del_{n}", help=f"forget {n}"):
                tensors.pop(n)
                arrays.pop(n, None)
                st.rerun()
    else:
        st.info("No tensors yet: create one on the left, e.g. `torch.rand(2, 3)`.")

if not tensors:
    st.stop()

# --- inspect -----------------------------------------------------------------------------------------
st.subheader("2 · Inspect")
shown = st.selectbox("Tensor", list(tensors), key="t_inspect")
t = tensors[shown]
a, b = st.columns([1, 2])
with a:
    attributes_table(t)
    st.code(
        f"{shown}.shape, {shown}.dtype, {shown}.device\n{shown}.stride(), {shown}.is_contiguous()",
        language="python",
    )
with b:
    show_tensor(t, shown)

# --- operate -----------------------------------------------------------------------------------------
st.subheader("3 · Operate")
EXAMPLES = [
    "torch.empty(5, 3)",
    "torch.zeros(5, 3, dtype=torch.long)",
    "torch.tensor([5.5, 3])",
    "a.new_ones(5, 3, dtype=torch.double)",
    "torch.randn_like(a, dtype=torch.float)",
    "a.size()",
    "a.view(-1)",
    "a[:, 1]",
    "a.numpy()",
    "torch.cuda.is_available()",
    "a.to('cpu', torch.double)",
    "a @ b.T",
    "a * b",
    "a[:, 1:].sum(dim=0)",
    "torch.cat([a, b], dim=0)",
    "torch.stack([a, b]).shape",
    "a.reshape(3, 2)",
    "a.t().is_contiguous()",
    "a.permute(1, 0)",
    "a.mean(dim=1)",
    "a.max()",
    "a.add_(1)",
    "a.to('cpu')",
    "torch.from_numpy(a.numpy())",
]
expr_tab, mul_tab, inplace_tab, numpy_tab = st.tabs(["Expression", "* versus @", "In-place", "numpy bridge"])

with expr_tab:
    example = st.selectbox("Examples", ["(type your own)", *EXAMPLES], key="t_example")
    if example != "(type your own)" and st.session_state.get("t_last_example") != example:
        st.session_state["t_expr"] = example
        st.session_state["t_last_example"] = example
    text = st.text_input(
        "Expression",
        key="t_expr",
        placeholder="torch.matmul(a, b.T) * 2",
        help="Your tensors, numbers, + - * / ** @, indexing and slicing, torch functions and "
        "tensor methods. Nothing else runs.",
    )
    if text:
        try:
            # the numpy bridge's arrays too, by the names its code uses: torch.from_numpy(a_np)
            result = evaluate(text, {**{f"{n}_np": v for n, v in arrays.items()}, **tensors})
            st.code(f"result = {text}", language="python")
            shown = printed(result)
            st.code(shown.text, language=None)  # what Python prints for `result`
            if shown.shape is not None:
                st.caption(f"shape {shown.shape} · dtype {shown.dtype}")
            if same := [n for n, v in tensors.items() if v is result]:
                st.caption(f"This is {same[0]} itself: the expression changed it in place.")
            if isinstance(result, torch.Tensor):
                show_tensor(result, "result")
                save = st.columns([1, 1, 3])
                as_name = save[0].text_input("Save as", value=next_name(set(tensors)), key="t_save_name")
                if save[1].button("Save", key="t_save"):
                    tensors[valid_name(as_name)] = result
                    st.rerun()
        except ExprError as e:
            show_error(str(e))

with mul_tab:
    choices = operands(tensors)
    x_name = st.selectbox("Left", list(tensors), key="t_mul_left")
    x = tensors[x_name]
    RULES = [
        (
            "*",
            "mul",
            "**`*` — element by element.** Shapes are compared from the right; each pair of sizes "
            "must be equal, or one of them 1 (it is stretched: *broadcasting*).",
        ),
        (
            "@",
            "matmul",
            "**`@` — matrix product.** The left's columns must equal the right's rows: "
            "(n×k) @ (k×m) → (n×m).",
        ),
    ]
    for col, (symbol, fn, rule) in zip(st.columns(2), RULES):
        with col:
            st.markdown(rule)
            # start from a right-hand side that works with the left one: another tensor first, or a transpose
            works = [n for n, v in choices.items() if fits(symbol, x, v)]
            ranked = sorted(works, key=lambda n: n.removesuffix(".T") == x_name)
            names = list(choices)
            y_name = st.selectbox(
                "Right",
                names,
                index=names.index(ranked[0]) if ranked else min(1, len(names) - 1),
                key=f"t_mul_right_{fn}_{x_name}_{len(tensors)}",
            )  # a new tensor or another left side starts again from a choice that works
            y = choices[y_name]
            st.markdown(f"`{x_name}` is **{tuple(x.shape)}**, `{y_name}` is **{tuple(y.shape)}**.")
            st.code(
                f"{x_name} {symbol} {y_name}   # same as torch.{fn}({x_name}, {y_name})", language="python"
            )
            try:
                show_tensor(evaluate(f"{x_name} {symbol} {y_name}", tensors), fn)
            except ExprError as e:
                # the rule at work on these shapes: an explanation, not a failure of the page
                st.info(f"Not possible with these two: {e}".translate(MARKDOWN))

with inplace_tab:
    c = st.columns(3)
    target = c[0].selectbox("Tensor", list(tensors), key="t_inplace_target")
    op = c[1].selectbox("Operation", ["add", "mul", "sub"], key="t_inplace_op")
    amount = c[2].number_input("by", value=1.0, key="t_inplace_amount")
    t = tensors[target]
    st.markdown(
        "Methods ending in `_` change the tensor itself: same storage (`data_ptr`), no new memory. "
        "The others make a new tensor."
    )
    # the buttons run exactly what they say: `a.add_(1)` adds the int 1, so it works on int tensors too
    in_place, new_tensor = f"{target}.{op}_({amount:g})", f"{target}.{op}({amount:g})"
    c = st.columns(2)
    if c[0].button(in_place, key="t_inplace_do"):
        before = t.data_ptr()
        try:
            evaluate(in_place, tensors)
            st.session_state["t_inplace_msg"] = (
                f"{in_place}: data_ptr {hex(before)} → {hex(tensors[target].data_ptr())} (same storage)"
            )
        except ExprError as e:
            st.session_state["t_inplace_msg"] = e
    if c[1].button(f"new = {new_tensor}", key="t_outplace_do"):
        try:
            new = evaluate(new_tensor, tensors)
            st.session_state["t_inplace_msg"] = (
                f"{new_tensor} made a new tensor: data_ptr {hex(new.data_ptr())}, "
                f"while {target} stays at {hex(t.data_ptr())}"
            )
        except ExprError as e:
            st.session_state["t_inplace_msg"] = e
    msg = st.session_state.get("t_inplace_msg")
    if isinstance(msg, ExprError):
        show_error(str(msg))
    elif msg:
        st.info(msg)
    show_tensor(tensors[target], f"{target}_inplace")

with numpy_tab:
    st.markdown(
        "`tensor.numpy()` and `torch.from_numpy(array)` share memory on the CPU: change one and the "
        "other changes. `torch.tensor(array)`, `.clone()` and any tensor on a GPU make a copy."
    )
    cpu = [n for n, v in tensors.items() if bridgeable(v)]
    if not cpu:
        st.info("Create a CPU tensor without requires_grad, of a dtype numpy has, to try the bridge.")
    else:
        n = st.selectbox("Tensor", cpu, key="t_np_tensor")
        t = tensors[n]
        array = arrays.get(n)
        if (
            array is None or array.__array_interface__["data"][0] != t.data_ptr()
        ):  # none yet, or n was replaced
            array = arrays[n] = t.numpy()
        shared = array.__array_interface__["data"][0] == t.data_ptr()
        c = st.columns(3)
        if c[0].button(f"{n}.add_(1)  (torch, in place)", key="t_np_torch"):
            t.add_(1)
            st.rerun()
        if c[1].button(f"{n}_np += 1  (numpy, in place)", key="t_np_numpy"):
            array += 1
            st.rerun()
        if c[2].button(f"{n}_copy = torch.tensor({n}_np)", key="t_np_copy"):
            tensors[f"{n}_copy"] = torch.tensor(array)
            st.rerun()
        st.code(
            f"{n}_np = {n}.numpy()   # shares memory: {shared}\n{n}.add_(1)   # {n}_np changes too\n"
            f"{n}_np += 1   # and so does {n}",
            language="python",
        )
        c = st.columns(2)
        c[0].markdown(f"**{n}** (torch)")
        c[0].code(str(t))
        c[1].markdown(f"**{n}_np** (numpy)")
        c[1].code(repr(array))
