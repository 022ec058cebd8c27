"""Chapter 3's network builder: start from the tutorial's LeNet (or chapter 4's CIFAR Net), edit its layers
one per line, and see each layer's output shape, parameters and work, and the `class Net` they make.

Everything is core.layers': the text is parsed (never evaluated) and run on the meta device, so any edit
answers at once and a mismatch names the layer, what arrives and the value that would fit."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.layers import CIFAR_NET, LENET, LayersError, Row, infer, net_code, parse, summary
from ui.i18n import N_, _, choice_key, error_text, t

TEXT = "builder_text_{start}"  # session_state: the layers, one per line, for each starting point
STARTS = {
    "lenet": (N_("The tutorial's LeNet (1×32×32)"), LENET, 1),
    "cifar": (N_("CIFAR-10 Net (3×32×32)"), CIFAR_NET, 3),
}
INPUT = "builder_input"
LATEST = "builder_latest"  # session_state, not a widget's: the last network built, for the Train page


def _lines(text_form: str) -> str:
    return "\n".join(part.strip() for part in text_form.split("|"))


def _start(choice: str) -> None:
    st.session_state[TEXT.format(start=choice)] = _lines(STARTS[choice][1])


def _table(rows: list[Row]) -> None:
    frame = pd.DataFrame(
        [
            {
                "name": r.name,
                "layer": r.layer,
                "output": "(N, " + ", ".join(map(str, r.shape[1:])) + ")",
                "parameters": r.parameters,
                "macs": r.macs,
            }
            for r in rows
        ]
    )
    config = {
        "name": _("name"),
        "layer": _("layer"),
        "output": _("output shape"),
        "parameters": st.column_config.NumberColumn(_("parameters"), format="localized"),
        "macs": st.column_config.NumberColumn(_("multiply-adds per image"), format="localized"),
    }
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def builder() -> None:
    """The builder section: starting point, the layers, the live table and the generated class."""
    st.subheader(_("Build your own network"), anchor="builder")
    st.markdown(
        _(
            "Change the network and watch the shapes: one layer per line, written as PyTorch writes it "
            "(`Conv2d(in, out, kernel)`, `MaxPool2d(2)`, `ReLU`, "
            "`Flatten`, `Linear(in, out)`, `BatchNorm2d(n)`, "
            "`Dropout(p)`, `AvgPool2d(k)`). The table is computed on every change, without running the "
            "network on real data; a layer that cannot take what arrives says what would fit."
        )
    )
    choice = st.segmented_control(
        _("Start from"),
        list(STARTS),
        format_func=lambda k: _(STARTS[k][0]),
        default="lenet",
        key=choice_key(INPUT),
    )
    choice = choice or "lenet"
    if TEXT.format(start=choice) not in st.session_state:
        _start(choice)
    st.button(_("Reset to this starting point"), key="builder_reset", on_click=_start, args=(choice,))
    channels = STARTS[choice][2]
    text = st.text_area(_("Layers, one per line"), key=TEXT.format(start=choice), height=300, max_chars=2_000)
    st.session_state[LATEST] = text
    try:
        layers = parse(" | ".join(line for line in text.splitlines() if line.strip()))
        rows = infer(layers, (channels, 32, 32))
    except LayersError as e:
        st.error(error_text(e))
        if e.rows:
            _table(e.rows)
        return
    _table(rows)
    parameters, macs = summary(rows)
    st.caption(
        t("{parameters:,} parameters · {macs:,} multiply-adds per image", parameters=parameters, macs=macs)
    )
    st.markdown(_("The same network as a class: this is the code that builds it."))
    st.code(net_code(layers, (channels, 32, 32)), language="python")
