"""Autograd: the tutorial's second chapter. See the graph an expression builds, backward through it, check the
gradients against finite differences, and watch gradient descent."""

import pandas as pd
import streamlit as st
import torch

from core.autograd import (
    FUNCTIONS_2D,
    OPTIMIZERS_2D,
    backward,
    build_graph,
    descend,
    finite_difference,
    forward,
    make_leaf,
    surface,
)
from core.expr import ExprError
from core.walkthrough import lenet_walkthrough, resnet18_demo
from ui import through_navigation
from ui.charts import descent_loss_figure, descent_paths_figure, path_span, plot

through_navigation()

st.title("🔁 Autograd")
st.caption(
    "The tutorial's *A Gentle Introduction to torch.autograd*: every operation on a tensor with "
    "`requires_grad=True` adds a node to a graph; `backward()` walks it back and fills each leaf's `.grad`."
)

# --- expression graph --------------------------------------------------------------------------------


def expression_section() -> None:
    """Leaves, an expression, its graph, backward, and the finite-difference check."""
    st.subheader("1 · An expression and its graph")
    st.caption(
        "The leaves are made afresh on every change, with empty `.grad`, as after `optimizer.zero_grad()`."
    )
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
    )
    text = st.text_input("Expression", "(w * x ** 2 + b).sum()", key="ag_expr")
    try:
        leaves = {
            str(r["name"]).strip(): make_leaf(str(r["name"]), str(r["value"]), bool(r["requires_grad"]))
            for r in leaf_rows.to_dict("records")
            if str(r.get("name") or "").strip()
        }
        out = forward(text, leaves)
    except ExprError as e:
        st.error(str(e))
        return

    code = (
        "\n".join(
            f"{n} = torch.tensor({r['value']}, requires_grad={bool(r['requires_grad'])})"
            for n, r in zip(leaves, leaf_rows.to_dict("records"))
        )
        + f"\nout = {text}"
    )
    gradient = None
    if out.numel() != 1:
        st.info(
            f"`out` has {out.numel()} elements. `backward()` needs a `gradient` of the same shape: torch "
            "computes the vector-Jacobian product vᵀ·J, so you choose v. The tutorial uses "
            "`out.backward(torch.randn(1, 10))`."
        )
        if st.toggle("Use gradient = torch.randn(out.shape)", key="ag_use_grad"):
            gradient = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    times = st.number_input(
        "Call backward this many times without zeroing (gradients add up)", 1, 5, 1, key="ag_times"
    )
    if st.button("backward()", type="primary", key="ag_backward"):
        try:
            for i in range(times):
                out = forward(text, leaves) if i else out
                backward(out, gradient)
        except ExprError as e:
            st.error(str(e))
    code += "\n" + "\n".join(
        ["out.backward(" + ("torch.randn(out.shape)" if gradient is not None else "") + ")"] * times
    )
    left, right = st.columns([3, 2])
    with left:
        st.graphviz_chart(build_graph(out, leaves).dot(), width="stretch")
    with right:
        st.code(code, language="python")
        with_grad = {n: t for n, t in leaves.items() if t.grad is not None}
        if with_grad:
            rows = []
            for n, t in with_grad.items():
                fd = finite_difference(text, leaves, n, gradient) * times
                rows.append(
                    {
                        "leaf": n,
                        ".grad": t.grad.flatten().tolist(),
                        "finite difference": fd.flatten().tolist(),
                        "max |difference|": float((t.grad - fd).abs().max()),
                    }
                )
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            st.caption(
                "Finite difference: (f(x+ε) − f(x−ε)) / 2ε per element, ε = 1e-6, times the number of "
                "backward calls. Before each new backward pass, training loops call `optimizer.zero_grad()`."
            )


expression_section()

# --- gradient descent --------------------------------------------------------------------------------


def descent_section() -> None:
    """One function, three torch.optim optimizers, their paths on its contour plot."""
    st.subheader("2 · Gradient descent")
    c = st.columns([2, 1, 1, 1])
    choice = c[0].selectbox("Function f(x, y)", [*FUNCTIONS_2D, "type your own"], key="gd_fn")
    f_text = (
        c[0].text_input("f(x, y)", "x ** 2 + y ** 2 + x * y", key="gd_custom")
        if choice == "type your own"
        else FUNCTIONS_2D[choice]
    )
    x0 = c[1].number_input("start x", value=-1.5, key="gd_x0")
    y0 = c[2].number_input("start y", value=1.5, key="gd_y0")
    steps = c[3].number_input("steps", 1, 500, 60, key="gd_steps")
    lr = st.select_slider(
        "learning rate", [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0], 0.01, key="gd_lr"
    )
    st.code(
        f"xy = torch.tensor([{x0:g}, {y0:g}], requires_grad=True)\n"
        f"optimizer = torch.optim.SGD([xy], lr={lr:g})  # or momentum=0.9, or Adam\n"
        f"for step in range({steps}):\n    optimizer.zero_grad()\n"
        f"    x, y = xy\n    f = {f_text}\n    f.backward()\n    optimizer.step()",
        language="python",
    )
    try:
        runs = {name: descend(f_text, (x0, y0), name, lr, int(steps)) for name in OPTIMIZERS_2D}
        span = path_span([r["path"] for r in runs.values() if not r["diverged"]])
        grid = surface(f_text, (-span, span), (-span, span))
    except ExprError as e:
        st.error(str(e))
        return
    left, right = st.columns(2)
    with left:
        plot(descent_paths_figure(grid, {name: r["path"] for name, r in runs.items()}, span), key="gd_paths")
    with right:
        plot(descent_loss_figure({name: r["loss"] for name, r in runs.items()}), key="gd_loss")
    for name, r in runs.items():
        if r["diverged"]:
            st.warning(
                f"{name} diverged after {len(r['loss'])} steps: the learning rate {lr:g} is too large for "
                "this function — each step overshoots the minimum by more than the last. Lower it."
            )


descent_section()


@st.cache_data(show_spinner=False)
def _lenet_steps() -> list:
    return lenet_walkthrough()


def network_section() -> None:
    """The tutorial's LeNet, one step at a time, with what each step prints."""
    st.subheader("3 · A neural network, step by step")
    st.caption(
        "The tutorial's *Neural Networks* section on its LeNet: forward, backward, a loss, and updating "
        "the weights — by hand, then with torch.optim."
    )
    for i, step in enumerate(_lenet_steps()):
        with st.expander(f"{i + 1} · {step.title}", expanded=i == 0):
            st.code(step.code, language="python")
            st.code(step.output, language="text")


def resnet_section() -> None:
    """The tutorial's resnet18 example, timed and summarised by module (the full graph is too big to draw)."""
    st.subheader("4 · A big model: resnet18")
    pretrained = st.checkbox("Try the pretrained weights (downloads ~45 MB once)", key="rn_pretrained")
    if st.button("Run forward, backward and one SGD step", key="rn_run"):
        with st.spinner("resnet18 on a random 1×3×64×64 batch…"):
            st.session_state["rn_result"] = resnet18_demo(pretrained=pretrained)
    result = st.session_state.get("rn_result")
    if not result:
        return
    (st.info if result["note"].startswith(("random", "pretrained ImageNet")) else st.warning)(result["note"])
    st.code(result["code"], language="python")
    m = st.columns(4)
    m[0].metric("autograd graph nodes", f"{result['graph_nodes']:,}")
    for col, (phase, seconds) in zip(m[1:], result["seconds"].items()):
        col.metric(phase, f"{1000 * seconds:.0f} ms")
    st.dataframe(pd.DataFrame(result["modules"]), hide_index=True, width="stretch")


network_section()
resnet_section()
