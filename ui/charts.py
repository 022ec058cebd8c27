"""Plotly figures for training curves, built as plain figure dicts.

Dicts, not graph_objects: the live view rebuilds its charts every second, and constructing validated
graph objects costs ~20-30 ms each (Streamlit validates the dict once anyway). SVG `scatter` traces, not
WebGL: with ~1,000 points they draw fast, and a browser without a GPU would emulate WebGL on the CPU
the training needs. `uirevision` keeps the user's zoom and hidden traces across refreshes."""

from __future__ import annotations

import pandas as pd

PALETTE = ["#EE4C2C", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def _line(x: pd.Series, y: pd.Series, name: str, color: str, width: float = 2, **extra) -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x.tolist(),
        "y": y.tolist(),
        "name": name,
        "line": {"color": color, "width": width},
        **extra,
    }


def _figure(traces: list[dict], title: str, x: str, y: str, height: int = 300, **layout) -> dict:
    return {
        "data": traces,
        "layout": {
            "title": {"text": title},
            "height": height,
            "uirevision": "keep",
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "xaxis": {"title": {"text": x}, **layout.pop("xaxis", {})},
            "yaxis": {"title": {"text": y}, **layout.pop("yaxis", {})},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1, "xanchor": "right"},
            **layout,
        },
    }


def loss_figure(curves: dict[str, pd.DataFrame], show_raw: bool = True) -> dict:
    """Training loss per step: raw (faint) and smoothed (bold), one colour per run."""
    traces, single = [], len(curves) == 1
    for i, (name, c) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        if show_raw:
            traces.append(
                _line(
                    c["global_step"],
                    c["loss"],
                    "raw" if single else f"{name} raw",
                    color,
                    1,
                    opacity=0.3,
                    showlegend=single,
                )
            )
        traces.append(_line(c["global_step"], c["smoothed"], "smoothed" if single else name, color))
    return _figure(traces, "Training loss", "step", "loss")


def accuracy_figure(epochs: dict[str, pd.DataFrame], reference: float | None = None) -> dict:
    """Test accuracy after each epoch, in percent; an optional dotted reference line (e.g. chance)."""
    traces = [
        _line(e["epoch"], 100 * e["test_accuracy"], name, PALETTE[i % len(PALETTE)], mode="lines+markers")
        for i, (name, e) in enumerate(epochs.items())
    ]
    marks = (
        {}
        if reference is None
        else {
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": 100 * reference,
                    "y1": 100 * reference,
                    "line": {"dash": "dot", "color": "gray"},
                }
            ],
            "annotations": [
                {
                    "xref": "paper",
                    "x": 1,
                    "y": 100 * reference,
                    "text": "chance",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "xanchor": "right",
                    "font": {"color": "gray"},
                }
            ],
        }
    )
    return _figure(
        traces,
        "Test accuracy",
        "epoch",
        "%",
        yaxis={"rangemode": "tozero"},
        xaxis={"dtick": 1},
        showlegend=len(epochs) > 1,
        **marks,
    )


def lr_figure(curve: pd.DataFrame) -> dict:
    return _figure(
        [_line(curve["global_step"], curve["lr"], "lr", PALETTE[1])],
        "Learning rate",
        "step",
        "lr",
        height=220,
        yaxis={"rangemode": "tozero", "tickformat": ".2~g"},
    )
