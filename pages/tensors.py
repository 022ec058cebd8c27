"""Tensors: the tutorial's first chapter, hands-on. Create, inspect, operate, and the numpy bridge."""

import streamlit as st
import torch

from core.devices import list_devices
from core.expr import ExprError, evaluate, names_in, printed
from core.tensors import (
    DTYPES,
    FACTORIES,
    ResultCache,
    bridgeable,
    factory,
    fits,
    from_literal,
    from_numpy,
    next_name,
    operands,
    valid_name,
    views_as,
)
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.i18n import N_, _, choice_key, error_text, t, translated
from ui.practice import practice_section
from ui.tensor_view import attributes_table, commented, message_text, show_error, show_tensor

through_navigation()
chapter_heading(__file__)

st.title(_("Tensors"))
st.caption(
    _(
        "The tutorial's *Tensors* chapter: tensors are like numpy arrays that can also live on a GPU and "
        "track gradients. Every action shows the PyTorch code that does the same."
    )
)

tensors: dict[str, torch.Tensor] = st.session_state.setdefault("tensors", {})
arrays: dict = st.session_state.setdefault("arrays", {})  # tensors made with torch.from_numpy → their arrays

# where a new tensor's values come from (the radio's options, shown translated)
FUNCTION, LIST, NUMPY = N_("a function"), N_("a list"), N_("a numpy array")
OWN = N_("(type your own)")  # the examples' first option: the expression box as the learner left it
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
RULES = [
    (
        "*",
        "mul",
        N_(
            "**`*` — element by element.** Shapes are compared from the right; each pair of sizes must be "
            "equal, or one of them 1 (it is stretched: *broadcasting*)."
        ),
    ),
    (
        "@",
        "matmul",
        N_(
            "**`@` — matrix product.** The left's columns must equal the right's rows: (n×k) @ (k×m) → (n×m)."
        ),
    ),
]


def remember(name: str, created) -> None:
    tensors[name] = created.tensor
    if created.array is not None:
        arrays[name] = created.array
    # the comment as its template: shown in the language of the run that shows it
    st.session_state["t_code"] = (created.code, created.comment)


def names_key() -> str:
    """The tensors' names, for the key of a widget whose default is a free name: a new set of names (one
    created, saved or forgotten) offers a new default."""
    return ",".join(tensors)


def shapes_key() -> str:
    """The tensors' names, shapes and dtypes, for the key of a widget whose default depends on them."""
    return ",".join(f"{n}{tuple(x.shape)}{x.dtype}" for n, x in tensors.items())


def create() -> None:
    """1 · Create: a named tensor from a creation function, a list literal or a numpy array."""
    st.subheader(_("1 · Create"))
    left, right = st.columns([3, 2])
    with left:
        sources = (FUNCTION, LIST, NUMPY)
        source = st.radio(
            _("From"), sources, format_func=translated(sources), horizontal=True, key=choice_key("t_source")
        )
        c = st.columns(3)
        name = c[0].text_input(_("Name"), value=next_name(set(tensors)), key=f"t_name_{names_key()}")
        devices = [d.name for d in list_devices()]
        device = c[2].selectbox(_("device"), devices, key="t_device") if source != NUMPY else "cpu"
        try:
            if source == FUNCTION:
                kind = c[1].selectbox(_("Function"), FACTORIES, key="t_kind")
                if kind == "empty":
                    st.caption(_("Uninitialized: its values are whatever was left in memory."))
                k = st.columns(3)
                dtype = k[0].selectbox(_("dtype"), list(DTYPES), key="t_dtype")
                if kind in ("arange", "linspace"):
                    start = k[1].number_input(_("start"), value=0.0, key="t_start")
                    end = k[2].number_input(_("end"), value=5.0, key="t_end")
                    steps = (
                        st.number_input(_("steps"), 1, 10_000_000, 5, key="t_steps")
                        if kind == "linspace"
                        else 5
                    )
                    args = dict(start=start, end=end, steps=steps)
                else:
                    shape = k[1].text_input(
                        _("shape") if kind != "eye" else _("size"),
                        "2, 3" if kind != "eye" else "3",
                        key=f"t_shape_{kind}",
                    )
                    fill = (
                        k[2].number_input(_("fill value"), value=7.0, key="t_fill") if kind == "full" else 0.0
                    )
                    args = dict(shape=shape, fill=fill)
                # a line of its own: in a column of the row above, its label was cut to "requires_gr…"
                grad = st.checkbox(
                    "requires_grad",
                    key="t_grad",
                    help=_("Record operations on it so that backward() can compute its gradient."),
                )
                make = lambda: factory(name, kind, dtype=dtype, device=device, requires_grad=grad, **args)
            else:
                text = st.text_input(
                    _("Values (a list literal: read as data, never run)"), "[[1, 2], [3, 4]]", key="t_literal"
                )
                make = (
                    (lambda: from_numpy(name, text))
                    if source == NUMPY
                    else (lambda: from_literal(name, text, device=device))
                )
            if st.button(_("Create"), type="primary", key="t_create"):
                created = make()
                remember(valid_name(name), created)
                st.rerun()
        except ExprError as e:
            show_error(e)
        if st.session_state.get("t_code"):
            code, comment = st.session_state["t_code"]
            st.code(commented(code, error_text(comment)) if comment else code, language="python")
    with right:
        if tensors:
            st.markdown(_("**Your tensors**"))
            for n, tensor in list(tensors.items()):
                row = st.columns([4, 1])
                dtype = str(tensor.dtype).replace("torch.", "")
                row[0].markdown(f"`{n}` · {tuple(tensor.shape)} · {dtype} · {tensor.device}")
                if row[1].button("✕", key=f"t_del_{n}", help=t("forget {name}", name=n)):
                    tensors.pop(n)
                    arrays.pop(n, None)
                    st.rerun()
        else:
            st.info(_("No tensors yet: create one on the left, e.g. `torch.rand(2, 3)`."))


def inspect() -> None:
    """2 · Inspect: one tensor's attributes and values."""
    st.subheader(_("2 · Inspect"))
    shown = st.selectbox(_("Tensor"), list(tensors), key="t_inspect")
    tensor = tensors[shown]
    a, b = st.columns([1, 2])
    with a:
        attributes_table(tensor)
        st.code(
            f"{shown}.shape, {shown}.dtype, {shown}.device\n{shown}.stride(), {shown}.is_contiguous()",
            language="python",
        )
    with b:
        show_tensor(tensor, shown)


def expression() -> None:
    """Any expression over the learner's tensors, through the safe evaluator, printed as Python prints it."""
    own = _(OWN)
    example = st.selectbox(
        _("Examples"),
        [OWN, *EXAMPLES],
        format_func=lambda v: own if v == OWN else v,
        key=choice_key("t_example"),
    )
    if example != OWN and st.session_state.get("t_last_example") != example:
        st.session_state["t_expr"] = example
        st.session_state["t_last_example"] = example
    text = st.text_input(
        _("Expression"),
        key="t_expr",
        placeholder="torch.matmul(a, b.T) * 2",
        help=_(
            "Your tensors, numbers, + - * / ** @, indexing and slicing, torch functions and tensor methods. "
            "Nothing else runs."
        ),
    )
    if not text:
        return
    result = evaluated(text)
    if isinstance(result, ExprError):
        show_error(result)
        return
    st.code(f"result = {text}", language="python")
    shown = printed(result)
    st.code(shown.text, language=None)  # what Python prints for `result`
    if shown.shape is not None:
        st.caption(t("shape {shape} · dtype {dtype}", shape=shown.shape, dtype=shown.dtype))
    # a tensor it read and returned: changed in place (its _version moved), or returned as it is
    if same := [n for n in sorted(names_in(text)) if tensors.get(n) is result]:
        if same[0] in st.session_state["t_result"].changed:
            st.caption(t("This is {name} itself: the expression changed it in place.", name=same[0]))
        elif text.strip() == same[0]:
            st.caption(t("This is {name} itself: the same tensor, not a copy.", name=same[0]))
        else:
            st.caption(
                t(
                    "This is {name} itself, unchanged: nothing needed to change, so the call returned "
                    "the same tensor, not a copy (`.to()` makes a new tensor only when the device or "
                    "dtype differs).",
                    name=same[0],
                )
            )
    if isinstance(result, torch.Tensor):
        show_tensor(result, "result")
        save_as(result)


def evaluated(text: str) -> object:
    """The expression's result, or its ExprError, evaluated once for this text and these tensors
    (core.tensors.ResultCache): a rerun (a click on Save, or anywhere else) shows the same result."""
    # the numpy bridge's arrays too, by the names its code uses: torch.from_numpy(a_np)
    names = {**{f"{n}_np": v for n, v in arrays.items()}, **tensors}
    return st.session_state.setdefault("t_result", ResultCache()).result_of(text, names)


def save_as(result: torch.Tensor) -> None:
    """Save the shown result under a free name by default; a name in use is replaced only by a button that
    says so."""
    save = st.columns([1, 1, 3])
    as_name = save[0].text_input(
        _("Save as"), value=next_name(set(tensors)), key=f"t_save_name_{names_key()}"
    )
    taken = as_name.strip() in tensors
    label = t("Replace {name}", name=as_name.strip()) if taken else _("Save")
    if save[1].button(label, key="t_save"):
        try:
            tensors[valid_name(as_name)] = result
            st.rerun()
        except ExprError as e:
            show_error(e)
    if taken:
        st.warning(t("`{name}` already exists: saving replaces it.", name=as_name.strip()))


def mul_versus_matmul() -> None:
    """`*` and `@` side by side on the same left tensor, each starting from a right-hand side that works."""
    choices = operands(tensors)
    x_name = st.selectbox(_("Left"), list(tensors), key="t_mul_left")
    x = tensors[x_name]
    for col, (symbol, fn, rule) in zip(st.columns(2), RULES):
        with col:
            st.markdown(_(rule))
            # start from a right-hand side that works with the left one: another tensor first, or a transpose
            works = [n for n, v in choices.items() if fits(symbol, x, v)]
            ranked = sorted(works, key=lambda n: n.removesuffix(".T") == x_name)
            names = list(choices)
            y_name = st.selectbox(
                _("Right"),
                names,
                index=names.index(ranked[0]) if ranked else min(1, len(names) - 1),
                key=f"t_mul_right_{fn}_{x_name}_{shapes_key()}",
            )  # a new or replaced tensor, or another left side, starts again from a choice that works
            y = choices[y_name]
            st.markdown(
                t(
                    "`{left}` is **{left_shape}**, `{right}` is **{right_shape}**.",
                    left=x_name,
                    left_shape=tuple(x.shape),
                    right=y_name,
                    right_shape=tuple(y.shape),
                )
            )
            call = f"torch.{fn}({x_name}, {y_name})"
            same_as = t("same as {code}", code=call)
            st.code(commented(f"{x_name} {symbol} {y_name}", same_as), language="python")
            try:
                show_tensor(evaluate(f"{x_name} {symbol} {y_name}", tensors), fn)
            except ExprError as e:
                # the rule at work on these shapes: an explanation, not a failure of the page
                st.info(t("Not possible with these two: {reason}", reason=message_text(e)))


def in_place() -> None:
    """`x.add_(1)` against `x.add(1)`: the first keeps the storage, the second makes a new tensor."""
    c = st.columns(3)
    target = c[0].selectbox(_("Tensor"), list(tensors), key="t_inplace_target")
    op = c[1].selectbox(_("Operation"), ["add", "mul", "sub"], key="t_inplace_op")
    amount = c[2].number_input(_("by"), value=1.0, key="t_inplace_amount")
    tensor = tensors[target]
    st.markdown(
        _(
            "Methods ending in `_` change the tensor itself: same storage (`data_ptr`), no new memory. "
            "The others make a new tensor."
        )
    )
    # the buttons run exactly what they say: `a.add_(1)` adds the int 1, so it works on int tensors too
    in_place_code, new_code = f"{target}.{op}_({amount:g})", f"{target}.{op}({amount:g})"
    # what happened, as an English template and its values, shown in the language of the run that shows it
    c = st.columns(2)
    if c[0].button(in_place_code, key="t_inplace_do"):
        before = tensor.data_ptr()
        try:
            evaluate(in_place_code, tensors)
            st.session_state["t_inplace_msg"] = (
                N_("{code}: data_ptr {before} → {after} (same storage)"),
                dict(code=in_place_code, before=hex(before), after=hex(tensors[target].data_ptr())),
            )
        except ExprError as e:
            st.session_state["t_inplace_msg"] = e
    if c[1].button(f"new = {new_code}", key="t_outplace_do"):
        try:
            new = evaluate(new_code, tensors)
            st.session_state["t_inplace_msg"] = (
                N_("{code} made a new tensor: data_ptr {new}, while {name} stays at {old}"),
                dict(code=new_code, new=hex(new.data_ptr()), name=target, old=hex(tensor.data_ptr())),
            )
        except ExprError as e:
            st.session_state["t_inplace_msg"] = e
    msg = st.session_state.get("t_inplace_msg")
    if isinstance(msg, ExprError):
        show_error(msg)
    elif msg:
        template, values = msg
        st.info(t(template, **values))
    show_tensor(tensors[target], f"{target}_inplace")


def numpy_bridge() -> None:
    """A tensor and its numpy array sharing memory: change one, the other changes."""
    st.markdown(
        _(
            "`tensor.numpy()` and `torch.from_numpy(array)` share memory on the CPU: change one and the "
            "other changes. `torch.tensor(array)`, `.clone()` and any tensor on a GPU make a copy."
        )
    )
    cpu = [n for n, v in tensors.items() if bridgeable(v)]
    if not cpu:
        st.info(_("Create a CPU tensor without requires_grad, of a dtype numpy has, to try the bridge."))
        return
    n = st.selectbox(_("Tensor"), cpu, key="t_np_tensor")
    tensor = tensors[n]
    array = arrays.get(n)
    if not views_as(array, tensor):  # none yet, n replaced, or its view changed in place (a.t_())
        array = arrays[n] = tensor.numpy()
    shared = array.__array_interface__["data"][0] == tensor.data_ptr()
    c = st.columns(3)
    torch_add, numpy_add = f"{n}.add_(1)", f"{n}_np += 1"
    if c[0].button(t("{code}  (torch, in place)", code=torch_add), key="t_np_torch"):
        tensor.add_(1)
        st.rerun()
    if c[1].button(t("{code}  (numpy, in place)", code=numpy_add), key="t_np_numpy"):
        array += 1
        # torch does not see numpy's writes: counted as an in-place change of the tensor, so that the
        # expression box evaluates again what reads it
        torch.autograd.graph.increment_version(tensor)
        st.rerun()
    if c[2].button(f"{n}_copy = torch.tensor({n}_np)", key="t_np_copy"):
        tensors[f"{n}_copy"] = torch.tensor(array)
        st.rerun()
    lines = [
        commented(f"{n}_np = {n}.numpy()", t("shares memory: {shared}", shared=shared)),
        commented(torch_add, t("{array} changes too", array=n + "_np")),
        commented(numpy_add, t("and so does {tensor}", tensor=n)),
    ]
    st.code("\n".join(lines), language="python")
    c = st.columns(2)
    c[0].markdown(f"**{n}** (torch)")
    c[0].code(str(tensor), language=None)  # what Python prints: output, not code to run
    c[1].markdown(f"**{n}_np** (numpy)")
    c[1].code(repr(array), language=None)


def operate() -> None:
    """3 · Operate: the expression box, * versus @, in-place operations and the numpy bridge, as tabs."""
    st.subheader(_("3 · Operate"))
    tabs = st.tabs([_("Expression"), _("* versus @"), _("In-place"), _("numpy bridge")])
    for tab, section in zip(tabs, (expression, mul_versus_matmul, in_place, numpy_bridge)):
        with tab:
            section()


create()
if tensors:
    inspect()
    operate()
practice_section(1)
next_link(__file__)
