"""Autograd: the tutorial's second chapter. See the graph an expression builds, with every intermediate
value, backward through it, check the gradients against finite differences, see what `torch.no_grad()`
and `.detach()` give, and watch gradient descent."""

import pandas as pd
import streamlit as st
import torch

from core.autograd import (
    FUNCTIONS_2D,
    OPTIMIZERS_2D,
    backward,
    build_graph,
    descend,
    forward,
    grad_modes,
    gradient_check,
    gradient_needed,
    make_leaf,
    surface,
)
from core.expr import ExprError
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.charts import descent_loss_figure, descent_paths_figure, path_span, plot
from ui.i18n import N_, _, choice_key, error_text, t, translated
from ui.practice import practice_section
from ui.tensor_view import commented

through_navigation()
chapter_heading(__file__)

st.title(_("Autograd"))
st.caption(
    _(
        "The tutorial's *A Gentle Introduction to torch.autograd*: every operation on a tensor with "
        "`requires_grad=True` adds a node to the computational graph; `backward()` walks it back and fills "
        "each leaf tensor's `.grad`."
    )
)

CUSTOM = "custom"  # the function selectbox's "type your own" option


def leaves_and_expression() -> tuple[dict[str, torch.Tensor], str, list[dict]]:
    """The leaf editor and the expression box: the leaves (made afresh), the text, the editor's rows."""
    left, right = st.columns([3, 2])
    with left:
        leaf_rows = st.data_editor(
            pd.DataFrame(
                [
                    {"name": "x", "value": "2.0", "requires_grad": True},
                    {"name": "w", "value": "[1.0, -1.0, 0.5]", "requires_grad": True},
                    {"name": "b", "value": "0.5", "requires_grad": False},
                ]
            ),
            num_rows="dynamic",
            hide_index=True,
            key="ag_leaves",
            width="stretch",
            column_config={
                "name": st.column_config.TextColumn(_("name")),
                "value": st.column_config.TextColumn(_("value"), help=_("A number or a (nested) list")),
                "requires_grad": st.column_config.CheckboxColumn("requires_grad", default=True),
            },
        ).to_dict("records")
    with right:
        text = st.text_input(_("Expression"), "(w * x ** 2 + b).sum()", key="ag_expr")
    rows = [r for r in leaf_rows if str(r.get("name") or "").strip()]
    leaves = {
        str(r["name"]).strip(): make_leaf(str(r["name"]), str(r["value"] or ""), bool(r["requires_grad"]))
        for r in rows
    }
    return leaves, text, rows


def expression_section() -> None:
    """Leaves, an expression, its graph with every value, backward, and the finite-difference check."""
    st.subheader(_("1 · An expression and its graph"))
    st.caption(
        _(
            "The leaves are made afresh on every change, with empty `.grad`, as after "
            "`optimizer.zero_grad()`. Leaves without `requires_grad` take part in the computation but get "
            "no gradient."
        )
    )
    try:
        leaves, text, rows = leaves_and_expression()
        traced = forward(text, leaves)
    except ExprError as e:
        st.error(error_text(e))
        return

    gradient, needed = None, gradient_needed(traced.out)
    if needed is not None:
        st.info(error_text(needed))
        if st.toggle(_("Use gradient = torch.randn(out.shape)"), key="ag_use_grad"):
            # rounded to two decimals, so that the learner can check the gradients by hand
            gradient = torch.randn(
                traced.out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
            ).round(decimals=2)
            shown = f"`{gradient.tolist()}`"
            st.caption(
                t(
                    "The gradient argument v (random, rounded to two decimals): {v}. Each leaf's `.grad` "
                    "becomes vᵀ·J, the sum over the elements of `out` of v times that element's gradient.",
                    v=shown,
                )
            )
    c = st.columns([3, 1])
    times = c[0].number_input(
        _("Call backward this many times without zeroing (gradients add up)"), 1, 5, 1, key="ag_times"
    )
    # a non-scalar output without a gradient: the message above says why, the button waits for the toggle
    clicked = c[1].button(
        "backward()", type="primary", key="ag_backward", disabled=needed is not None and gradient is None
    )
    if clicked:
        try:
            for i in range(times):
                backward((forward(text, leaves) if i else traced).out, gradient)
        except ExprError as e:
            st.error(error_text(e))

    st.graphviz_chart(build_graph(traced, leaves).dot(_), width="content")
    st.caption(
        _(
            "Read top to bottom, as the expression is computed: blue boxes are leaf tensors, grey boxes the "
            "`grad_fn` nodes with the sub-expression each computed and its value, the orange box the "
            "result. A dashed box is a leaf with `requires_grad=False`: used, but outside the graph."
        )
    )
    declare = "\n".join(
        f"{n} = torch.tensor({r['value']}, requires_grad={bool(r['requires_grad'])})"
        for n, r in zip(leaves, rows)
    )
    if needed is not None and gradient is None:
        # what would fail is not shown as code to copy
        calls = ["# " + _("out is not a scalar: backward() needs a gradient argument (the switch above)")]
    else:
        # backward() frees the graph it walked: every call but the last keeps it for the next one
        argument = "gradient=v" if gradient is not None else ""
        keep = f"out.backward({argument + ', ' if argument else ''}retain_graph=True)"
        calls = [keep] * (times - 1) + [f"out.backward({argument})"]
        if times > 1:
            calls[0] = commented(keep, _("keep the graph: backward() is called again"))
        if gradient is not None:
            calls.insert(0, f"v = torch.tensor({gradient.tolist()})")
    code, table = st.columns([2, 3])
    code.code("\n".join([declare, f"out = {text}", *calls]), language="python", wrap_lines=True)
    checked = gradient_check(text, leaves, gradient, times)
    with table:
        if checked:
            st.dataframe(
                pd.DataFrame(checked).drop(columns="leaf"),
                hide_index=True,
                width="stretch",
                column_config={
                    "element": _("element"),
                    "finite difference": _("finite difference"),
                    "difference": st.column_config.NumberColumn(_("|difference|"), format="%.1e"),
                },
            )
            st.caption(
                _(
                    "Finite difference: (f(x+ε) − f(x−ε)) / 2ε per element, ε = 1e-6, times the number of "
                    "backward calls. Training loops call `optimizer.zero_grad()` before each backward pass."
                )
            )
        else:
            st.caption(_("Click backward() to fill each leaf's `.grad` and check it here."))
    no_grad_section(text, leaves)


def no_grad_section(text: str, leaves: dict[str, torch.Tensor]) -> None:
    """The same expression recorded, under torch.no_grad() and detached: what requires_grad each gets."""
    st.subheader(_("2 · Switching autograd off: torch.no_grad() and .detach()"))
    rows = grad_modes(text, leaves)
    st.code("\n".join(r["code"] for r in rows), language="python", wrap_lines=True)
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"code": st.column_config.TextColumn(_("code"), width="large"), "value": _("value")},
        key="ag_modes",
    )
    st.caption(
        _(
            "Inside `torch.no_grad()` no graph is recorded: the result has `requires_grad=False` and no "
            "`grad_fn`. `.detach()` returns a tensor with the same values (and memory) cut off from the "
            "graph. Evaluating a model needs no gradients, so it runs under `torch.no_grad()`: faster, and "
            "without keeping every intermediate result for a backward pass that never comes. `.detach()` is "
            "how you take a value out of the graph, e.g. to plot it or turn it into NumPy."
        )
    )


expression_section()

# --- gradient descent --------------------------------------------------------------------------------

# the descent and its contour depend on the section's own inputs only: a click elsewhere on the page reruns
# it without recomputing them (three optimizers' steps, each evaluated under the expression budget)
_descend = st.cache_data(max_entries=32, show_spinner=False)(descend)
_surface = st.cache_data(max_entries=32, show_spinner=False)(surface)


def descent_section() -> None:
    """One function, three torch.optim optimizers, their paths on its contour plot."""
    st.subheader(_("3 · Gradient descent"))
    c = st.columns([2, 1, 1, 1])
    choice = c[0].selectbox(
        _("Function f(x, y)"),
        [*FUNCTIONS_2D, CUSTOM],
        format_func=translated({**{name: name for name in FUNCTIONS_2D}, CUSTOM: N_("type your own")}),
        key=choice_key("gd_fn"),
    )
    f_text = (
        c[0].text_input("f(x, y)", "x ** 2 + y ** 2 + x * y", key="gd_custom")
        if choice == CUSTOM
        else FUNCTIONS_2D[choice]
    )
    x0 = c[1].number_input(_("start x"), value=-1.5, key="gd_x0")
    y0 = c[2].number_input(_("start y"), value=1.5, key="gd_y0")
    steps = c[3].number_input(_("steps"), 1, 500, 60, key="gd_steps")
    lr = st.select_slider(
        _("learning rate"),
        [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0],
        0.01,
        key="gd_lr",
    )
    alternatives = _("or momentum=0.9, or Adam")
    st.code(
        f"xy = torch.tensor([{x0:g}, {y0:g}], requires_grad=True)\n"
        f"optimizer = torch.optim.SGD([xy], lr={lr:g})  # {alternatives}\n"
        f"for step in range({steps}):\n    optimizer.zero_grad()\n"
        f"    x, y = xy\n    f = {f_text}\n    f.backward()\n    optimizer.step()",
        language="python",
        wrap_lines=True,
    )
    try:
        runs = {_(name): _descend(f_text, (x0, y0), name, lr, int(steps)) for name in OPTIMIZERS_2D}
        span = path_span([r["path"] for r in runs.values() if not r["diverged"]])
        grid = _surface(f_text, (-span, span), (-span, span))
    except ExprError as e:
        st.error(error_text(e))
        return
    left, right = st.columns(2)
    with left:
        plot(descent_paths_figure(grid, {name: r["path"] for name, r in runs.items()}, span), key="gd_paths")
    with right:
        plot(descent_loss_figure({name: r["loss"] for name, r in runs.items()}), key="gd_loss")
    for name, r in runs.items():
        if r["diverged"]:
            st.warning(
                t(
                    "{name} diverged after {steps} steps: the learning rate {lr} is too large for this "
                    "function, each step overshoots the minimum by more than the last. Lower it.",
                    name=name,
                    steps=len(r["loss"]),
                    lr=format(lr, "g"),
                )
            )


descent_section()
practice_section(2)
next_link(__file__)
