"""Show one tensor: its values as a table and a heatmap, a picture for 3×H×W, a slicer for more dims."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from core.tensors import as_image, describe, plane

HEATMAP_MAX = 10_000  # cells: beyond this a heatmap is unreadable and slow to send


def attributes_table(t: torch.Tensor) -> None:
    st.dataframe(
        pd.DataFrame([{"attribute": k, "value": str(v)} for k, v in describe(t).items()]),
        hide_index=True,
        width="stretch",
    )


def show_tensor(t: torch.Tensor, key: str) -> None:
    """Values of a tensor (or of the 2-D plane the user slices out of it)."""
    if t.is_complex():
        st.code(str(t))
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
    frame = pd.DataFrame(
        grid.float().numpy() if grid.dtype in (torch.bfloat16, torch.float16) else grid.numpy()
    )
    table.dataframe(frame, width="stretch", height=min(38 + 35 * len(frame), 400))
    if grid.numel() <= HEATMAP_MAX:
        z = grid.float().numpy()
        heat.plotly_chart(
            {
                "data": [
                    {
                        "type": "heatmap",
                        "z": z.tolist(),
                        "colorscale": "RdBu",
                        "reversescale": True,
                        "texttemplate": "%{z:.3g}" if grid.numel() <= 64 else None,
                    }
                ],
                "layout": {
                    "height": min(80 + 40 * grid.shape[0], 420),
                    "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                    "yaxis": {"autorange": "reversed", "dtick": 1 if grid.shape[0] <= 20 else None},
                    "xaxis": {"dtick": 1 if grid.shape[1] <= 20 else None},
                },
            },
            key=f"{key}_heat",
            config={"displaylogo": False},
        )
    image = as_image(t)
    if image is not None:
        st.image(image, caption=f"{key} as an image (3×H×W, scaled to its min..max)", width=240)
