"""Chapter 3, neural networks: the tutorial's LeNet, run cell by cell when the learner asks. Each cell's
code is the code that runs and its output is what that code prints (core/walkthrough.py runs the text)."""

import pandas as pd
import streamlit as st

from core.walkthrough import TRAINING_STEPS, net_cells, resnet18_walkthrough, run_cells
from ui import through_navigation
from ui.builder import builder
from ui.chapter import chapter_heading, next_link
from ui.i18n import N_, _, language, t
from ui.practice import practice_section

through_navigation()
chapter_heading(__file__)

# session_state: the last cell run (-1: none yet), the random input's seed, resnet18's result
UPTO, SEED, RESNET = "nn_upto", "nn_seed", "nn_resnet"
FIRST_SEED = 1

# What each cell is for, in our words; keyed like core.walkthrough's cells.
EXPLAIN = {
    "imports": N_(
        "The usual imports: torch, its layers (nn), their functions (F) and the optimizers (optim)."
    ),
    "class": N_(
        "The tutorial's network, LeNet: it reads a 1-channel (grayscale) 32×32 image. A network is a "
        "subclass of `nn.Module`: `__init__` creates the layers that hold learnable parameters, forward says "
        "how an input flows through them. You only write forward; autograd derives backward. The shapes in "
        "the comments were measured by running the class, not typed. The Train page's `lenet` model is this "
        "network; chapter 4's CIFAR-10 `Net` is the same with 3 input channels (colour images)."
    ),
    "net": N_(
        "Printing a module lists its layers: two convolutional layers, then three fully connected layers. "
        "ReLU, max-pooling and the flatten have no parameters; they live in forward, so they are not listed."
    ),
    "parameters": N_(
        "`net.parameters()` yields every learnable tensor: one weight and one bias per layer. conv1's "
        "weight is `[6, 1, 5, 5]`: 6 filters, each 1 channel deep and 5×5. Their sizes add up to the "
        "network's parameter count."
    ),
    "shapes": N_(
        "The same layers one at a time on a 32×32 image. A 5×5 convolution without padding takes 4 pixels "
        "off each side length (32 → 28), each 2×2 max-pool halves it (28 → 14). After the second pool, 16 "
        "channels of 5×5 are left: flattened, 16 × 5 × 5 = 400 numbers per image, which is why fc1 is "
        "`nn.Linear(16 * 5 * 5, 120)`. Another input size changes this number (try the exercises below)."
    ),
    "forward": N_(
        "A forward pass: a batch of one random 1-channel 32×32 image gives 10 outputs, one per class. "
        "`torch.nn` works on batches only, hence the leading 1. Draw another input to see the outputs change."
    ),
    "backward-random": N_(
        "Zero the gradient buffers, then backpropagate a random gradient from the 10 outputs: every "
        "parameter receives a `.grad`."
    ),
    "loss": N_(
        "A loss function takes `(output, target)` and returns a number saying how far the output is from "
        "the target. `nn.MSELoss` is the mean squared error."
    ),
    "grad-fn": N_(
        "The loss remembers how it was computed: each `grad_fn` points to the functions that made its "
        "inputs. Walking back from the loss retraces forward in reverse, down to `conv1`."
    ),
    "backprop": N_(
        "`loss.backward()` fills every parameter's `.grad`. Clear the old gradients first, or the new ones "
        "are added to them. `zero_grad()` sets them to `None`, which is what prints before backward."
    ),
    "manual-sgd": N_(
        "The simplest update rule, stochastic gradient descent: move each weight a small step against its "
        "gradient. The loss on the same input goes down."
    ),
    "optim-sgd": N_(
        "`torch.optim` has the update rules ready (SGD, Adam, …): zero the gradients, forward, loss, "
        "backward, then `optimizer.step()` does the update."
    ),
}


def _cell_output(text: str) -> None:
    if text:
        st.code(text, language="text")
    else:
        st.caption(_("This cell prints nothing."))


def _run_to(index: int) -> None:
    st.session_state[UPTO] = max(st.session_state.get(UPTO, -1), index)


def _start_again() -> None:
    st.session_state[UPTO] = -1


def _new_input(forward_index: int) -> None:
    st.session_state[SEED] = st.session_state.get(SEED, FIRST_SEED) + 1
    _run_to(forward_index)


def network_cells() -> None:
    """The chapter's cells, each shown with its code; a run button computes it and every cell before it."""
    cells = net_cells(st.session_state.get(SEED, FIRST_SEED), language())
    keys = [cell.key for cell in cells]
    upto = st.session_state.get(UPTO, -1)
    outputs = run_cells(cells[: upto + 1])

    st.subheader(_("How a network is trained"))
    st.markdown(
        "\n".join(f"{i}. [{_(text)}](#cell-{key})" for i, (text, key) in enumerate(TRAINING_STEPS, start=1))
    )
    left, right = st.columns([1, 1, 3])[:2]
    left.button(_("▶ Run all cells"), key="nn_run_all", on_click=_run_to, args=(len(cells) - 1,))
    right.button(_("↺ Start again"), key="nn_reset", on_click=_start_again)

    for i, cell in enumerate(cells):
        st.subheader(f"{i + 1} · {_(cell.title)}", anchor=f"cell-{cell.key}")
        st.markdown(_(EXPLAIN[cell.key]))
        st.code(cell.code, language="python")
        if cell.key == "forward":
            st.button(
                _("🎲 Draw a new random input"),
                key="nn_new_input",
                on_click=_new_input,
                args=(keys.index("forward"),),
            )
        if i <= upto:
            _cell_output(outputs[i])
        else:
            label = _("▶ Run this cell") if i == upto + 1 else _("▶ Run the cells up to here")
            st.button(label, key=f"nn_run_{cell.key}", on_click=_run_to, args=(i,))


def resnet_section() -> None:
    """The tutorial's resnet18 example: its code with what it prints, timed after a warm-up run."""
    st.subheader(_("A big model: resnet18"), anchor="resnet18")
    st.markdown(
        _(
            "The same steps on torchvision's resnet18 (11.7 M parameters): a forward pass, a backward pass, "
            "one step of gradient descent. The times are of a second run: the first run pays one-time costs "
            "(memory, choosing kernels), so it is the warm-up."
        )
    )
    pretrained = st.checkbox(
        _("Use the pretrained ImageNet weights (downloads about 45 MB once)"), key="nn_pretrained"
    )
    if st.button(_("▶ Run resnet18"), key="nn_resnet_run"):
        with st.spinner(_("resnet18 on a random 1×3×64×64 image…")):
            st.session_state[RESNET] = resnet18_walkthrough(pretrained=pretrained)
    result = st.session_state.get(RESNET)
    if result is None:
        return
    if result.fallback_reason:
        st.warning(
            t(
                "The pretrained weights could not be loaded ({reason}), so this ran with random weights.",
                reason=result.fallback_reason,
            )
        )
    for cell, output in zip(result.cells, result.outputs):
        st.markdown(f"**{_(cell.title)}**")
        st.code(cell.code, language="python")
        _cell_output(output)
    metrics = st.columns(len(result.seconds) + 1)
    metrics[0].metric(_("autograd graph nodes"), f"{result.graph_nodes:,}")
    for column, cell in zip(metrics[1:], result.cells[1:]):
        column.metric(_(cell.title), t("{ms:.0f} ms", ms=1000 * result.seconds[cell.key]))
    st.dataframe(
        pd.DataFrame(result.modules),
        hide_index=True,
        width="stretch",
        column_config={
            "module": _("module"),
            "type": _("type"),
            "parameters": _("parameters"),
            "output shape": _("output shape"),
        },
    )


st.title(_("Neural networks"))
st.markdown(
    _(
        "Neural networks are built with `torch.nn`. A network is an `nn.Module`: its layers hold the "
        "learnable parameters, and `forward(input)` returns the output. Below, the tutorial's LeNet goes "
        "through one round of training, one cell at a time. Each cell's code is exactly what "
        "runs, and its output is exactly what that code prints: copy the cells into Python in the same order "
        "and you get the same numbers."
    )
)
network_cells()
builder()
resnet_section()
practice_section(3)
next_link(__file__)
