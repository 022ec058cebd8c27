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

MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>~$|"})


def show_error(message: str) -> None:
    """An error as plain text: names like `__class__` in a message must not turn into markdown."""
    st.error(message.translate(MARKDOWN))


def attributes_table(t: torch.Tensor) -> None:
    st.dataframe(
        pd.DataFrame([{"attribute": k, "value": str(v)} for k, v in describe(t).items()]),
        hide_index=True,
        width="stretch",
    )


def show_tensor(t: torch.Tensor, key: str) -> None:
    """Values of a tensor (or of the 2-D plane the user slices out of it)."""
    if t.numel() == 0:
        st.caption(f"{key} is empty: shape {tuple(t.shape)}, no values to show.")
        return
    if t.is_complex():
        st.code(repr(t))
        return
    index: tuple[int, ...] = ()
    if t.dim() > 2:
        cols = st.columns(t.dim() - 2)
        index = tuple(
            col.slider(f"index in dim {d}", 0, t.shape[d] - 1, 0, key=f"{key}_dim{d}")
            if t.shape[d] > 1
            else 0
            for d, col in enumerate(cols)
        )
        st.caption(f"Showing {key}[{', '.join(map(str, index))}] — a {t.shape[-2]}×{t.shape[-1]} plane.")
    values = plane(t, index)
    if values.dim() == 0:
        st.metric("value", f"{values.item():.6g}" if values.is_floating_point() else str(values.item()))
        return
    grid = values.reshape(1, -1) if values.dim() == 1 else values
    table, heat = st.columns([1, 1])
    shown = preview(grid)
    frame = pd.DataFrame(
        shown.float().numpy() if shown.dtype in (torch.bfloat16, torch.float16) else shown.numpy()
    )
    table.dataframe(frame, width="stretch", height=min(38 + 35 * len(frame), 400))
    if shown.numel() < grid.numel():
        table.caption(
            f"The first {shown.shape[0]:,}×{shown.shape[1]:,} of {grid.shape[0]:,}×{grid.shape[1]:,} values "
            f"(at most {PREVIEW_ELEMENTS:,} are listed)."
        )
    z, rows, cols = downsample(grid)
    # non-finite values (nan, ±inf) as gaps: JSON has no NaN
    cells = [[float(v) if abs(v) < float("inf") else None for v in row] for row in z.tolist()]
    with heat:
        plot(heatmap_figure(cells, rows, cols), key=f"{key}_heat")
        if len(rows) * len(cols) < grid.numel():
            st.caption(
                f"Each cell is the mean of a block of values (at most {HEATMAP_SIDE}×{HEATMAP_SIDE} cells)."
            )
    image = as_image(t)
    if image is not None:
        st.image(image, caption=f"{key} as an image (3×H×W, scaled to its min..max)", width=240)
