"""Show one tensor of any shape: its values as a table and a heatmap, a picture for 3×H×W, a slicer for
more dims. Empty and 0-d tensors get a line of their own; big ones a capped preview (the first
PREVIEW_ELEMENTS values, a heatmap of at most HEATMAP_SIDE² block means), so showing a tensor costs about
the same whatever its size."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from core.tensors import HEATMAP_SIDE, PREVIEW_ELEMENTS, as_image, describe, downsample, plane, preview
from ui.charts import heatmap_figure, plot
from ui.i18n import _, error_text, t

# markdown's own characters, escaped so that names like `__class__` stay text (numbers and commas stay as
# they are, so the message reads the same in the page's markdown source)
MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>~$|"})


def message_text(error: Exception) -> str:
    """`error_text(error)` as plain text: names like `__class__` in it must not turn into markdown."""
    return error_text(error).translate(MARKDOWN)


def show_error(error: Exception) -> None:
    """An error of the expression box or the tensor factory, in the learner's language."""
    st.error(message_text(error))


def commented(code: str, comment: str) -> str:
    """A line of code with its `# …` comment: the code stays code, the comment is in the learner's language
    (translate it before)."""
    return f"{code}   # {comment}"


def attributes_table(tensor: torch.Tensor) -> None:
    """The tensor's attributes; the "attribute" column holds the English names, shown translated."""
    st.dataframe(
        pd.DataFrame([{"attribute": _(k), "value": str(v)} for k, v in describe(tensor).items()]),
        hide_index=True,
        width="stretch",
        column_config={"attribute": _("attribute"), "value": _("value")},
    )


def show_tensor(tensor: torch.Tensor, key: str) -> None:
    """Values of a tensor (or of the 2-D plane the user slices out of it)."""
    if tensor.numel() == 0:
        st.caption(
            t("{name} is empty: shape {shape}, no values to show.", name=key, shape=tuple(tensor.shape))
        )
        return
    if tensor.is_complex():
        st.code(repr(tensor), language=None)  # what Python prints: output, not code to run
        return
    index: tuple[int, ...] = ()
    if tensor.dim() > 2:
        cols = st.columns(tensor.dim() - 2)
        index = tuple(
            col.slider(t("index in dim {dim}", dim=d), 0, tensor.shape[d] - 1, 0, key=f"{key}_dim{d}")
            if tensor.shape[d] > 1
            else 0
            for d, col in enumerate(cols)
        )
        st.caption(
            t(
                "Showing {name}[{index}] — a {rows}×{cols} plane.",
                name=key,
                index=", ".join(map(str, index)),
                rows=tensor.shape[-2],
                cols=tensor.shape[-1],
            )
        )
    values = plane(tensor, index)
    if values.dim() == 0:
        st.metric(_("value"), f"{values.item():.6g}" if values.is_floating_point() else str(values.item()))
        return
    grid = values.reshape(1, -1) if values.dim() == 1 else values
    table, heat = st.columns([1, 1])
    shown = preview(grid)
    frame = pd.DataFrame(
        shown.float().numpy() if shown.dtype in (torch.bfloat16, torch.float16) else shown.numpy()
    ).rename(columns=str)
    # 4 significant digits, in exponent notation when tiny or huge: torch.empty's 4.2e-45 must not read
    # as a clipped 0.000000…
    general = st.column_config.NumberColumn(format="%.4g")
    table.dataframe(
        frame,
        width="stretch",
        height=min(38 + 35 * len(frame), 400),
        column_config={c: general for c in frame.columns} if shown.is_floating_point() else None,
    )
    if shown.numel() < grid.numel():
        table.caption(
            t(
                "The first {rows:,}×{cols:,} of {all_rows:,}×{all_cols:,} values "
                "(at most {limit:,} are listed).",
                rows=shown.shape[0],
                cols=shown.shape[1],
                all_rows=grid.shape[0],
                all_cols=grid.shape[1],
                limit=PREVIEW_ELEMENTS,
            )
        )
    z, rows, cols = downsample(grid)
    # non-finite values (nan, ±inf) as gaps: JSON has no NaN
    cells = [[float(v) if abs(v) < float("inf") else None for v in row] for row in z.tolist()]
    with heat:
        plot(heatmap_figure(cells, rows, cols, integer=not grid.is_floating_point()), key=f"{key}_heat")
        if len(rows) * len(cols) < grid.numel():
            st.caption(
                t(
                    "Each cell is the mean of a block of values (at most {side}×{side} cells).",
                    side=HEATMAP_SIDE,
                )
            )
    image = as_image(tensor)
    if image is not None:
        st.image(image, caption=t("{name} as an image (3×H×W, scaled to its min..max)", name=key), width=240)
