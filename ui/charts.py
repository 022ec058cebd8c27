"""Every plotly figure the pages draw, built as plain figure dicts, and `plot`, which draws one.

Builders take plain values (frames, lists) and return dicts: pages call a builder, then `plot(fig, key)`,
so titles, colours and chart settings live here only. Dicts, not graph_objects: the live view rebuilds its
charts every second, and constructing validated graph objects costs ~20-30 ms each (Streamlit validates
the dict once anyway). SVG `scatter` traces, not WebGL: with ~1,000 points they draw fast, and a browser
without a GPU would emulate WebGL on the CPU the training needs. `uirevision` keeps the user's zoom and
hidden traces across refreshes."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ui.i18n import _, t

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
                    _("raw") if single else t("{name} raw", name=name),
                    color,
                    1,
                    opacity=0.3,
                    showlegend=single,
                )
            )
        traces.append(_line(c["global_step"], c["smoothed"], _("smoothed") if single else name, color))
    return _figure(traces, _("Training loss"), _("step"), _("loss"))


def _hline(y: float, text: str) -> tuple[dict, dict]:
    """A dotted grey line across the plot at `y`, with `text` at its right end."""
    line = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"dash": "dot", "color": "gray"},
    }
    note = {
        "xref": "paper",
        "x": 1,
        "y": y,
        "text": text,
        "showarrow": False,
        "yanchor": "bottom",
        "xanchor": "right",
        "font": {"color": "gray"},
    }
    return line, note


def accuracy_figure(
    epochs: dict[str, pd.DataFrame],
    reference: float | None = None,
    references: dict[str, float] | None = None,
) -> dict:
    """Test accuracy after each epoch, in percent, with dotted reference lines: `reference` is chance,
    `references` maps more labels (already translated) to accuracies in 0..1."""
    traces = [
        _line(e["epoch"], 100 * e["test_accuracy"], name, PALETTE[i % len(PALETTE)], mode="lines+markers")
        for i, (name, e) in enumerate(epochs.items())
    ]
    lines = ({_("chance"): reference} if reference is not None else {}) | (references or {})
    return _figure(
        traces,
        _("Test accuracy"),
        _("epoch"),
        "%",
        yaxis={"range": [0, 100]},  # the whole scale: one point or a reference line never falls outside
        xaxis={"dtick": 1},
        showlegend=len(epochs) > 1,
        shapes=[_hline(100 * value, "")[0] for value in lines.values()],
        annotations=_reference_notes({label: 100 * value for label, value in lines.items()}),
    )


LABEL_GAP = 12  # percentage points: on the 0–100 axis of a chart 300 px high, one line of label text


def _reference_notes(lines: dict[str, float]) -> list[dict]:
    """The reference lines' labels at the plot's right end, never over one another: lines closer than
    LABEL_GAP share one label, one name per line of text, the highest first (54 % and a best earlier run at
    55 % wrote their names on top of each other)."""
    groups: list[list[tuple[str, float]]] = []
    for label, y in sorted(lines.items(), key=lambda item: item[1]):
        if groups and y - groups[-1][-1][1] < LABEL_GAP:
            groups[-1].append((label, y))
        else:
            groups.append([(label, y)])
    notes = []
    for group in groups:
        names = "<br>".join(label for label, _y in reversed(group))
        top, bottom = group[-1][1], group[0][1]
        # above the highest line of the group; below its lowest when there is no room above (near 100 %)
        room_above = top + LABEL_GAP * len(group) <= 100
        note = _hline(top if room_above else bottom, names)[1]
        notes.append(note | ({} if room_above else {"yanchor": "top"}))
    return notes


def lr_figure(curve: pd.DataFrame, changes: Sequence[dict] = ()) -> dict:
    """The learning rate per step, from the training loss curve's frame. `changes`: the run's
    `hyperparameters` events, each a dashed vertical line at its step, labelled with the new rate (or ✗
    when it was refused)."""
    shapes = [
        {
            "type": "line",
            "yref": "paper",
            "x0": c["global_step"],
            "x1": c["global_step"],
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dash", "color": "gray" if "refused" in c else PALETTE[0], "width": 1},
        }
        for c in changes
    ]
    notes = [
        {
            "x": c["global_step"],
            "yref": "paper",
            "y": 1,
            "text": "✗" if "refused" in c else f"→ {c['lr']:.3g}",
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"color": "gray" if "refused" in c else PALETTE[0]},
        }
        for c in changes
    ]
    return _figure(
        [_line(curve["global_step"], curve["lr"], _("learning rate"), PALETTE[1])],
        _("Learning rate"),
        _("step"),
        _("learning rate"),
        height=220,
        yaxis={"rangemode": "tozero", "tickformat": ".2~g"},
        shapes=shapes,
        annotations=notes,
    )


def path_span(paths: Sequence[Sequence[tuple[float, float]]]) -> float:
    """Half-width of the square a descent plot shows: at least 3, wide enough for every point of `paths`."""
    return max([3.0, *(abs(v) * 1.2 for path in paths for point in path for v in point)])


def descent_paths_figure(grid: dict, paths: dict[str, list[tuple[float, float]]], span: float) -> dict:
    """f(x, y)'s contour lines (grid from core.autograd.surface) with each optimizer's path over them."""
    contour = {
        "type": "contour",
        "x": grid["x"],
        "y": grid["y"],
        "z": grid["z"],
        "showscale": False,
        "colorscale": "Greys",
        "contours": {"coloring": "lines"},
        "ncontours": 30,
        "hoverinfo": "skip",
    }
    traces = [contour]
    for i, (name, path) in enumerate(paths.items()):
        xs, ys = zip(*path)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines+markers",
                "name": name,
                "marker": {"size": 4},
                "line": {"color": PALETTE[i % len(PALETTE)]},
            }
        )
    return {
        "data": traces,
        "layout": {
            "height": 420,
            "title": {"text": _("Paths")},
            "margin": {"t": 40},
            # powers of ten (10⁻⁶), not SI prefixes (1μ, 1M), which mean nothing next to a math function
            "xaxis": {"range": [-span, span], "exponentformat": "power"},
            "yaxis": {"range": [-span, span], "exponentformat": "power"},
        },
    }


def descent_loss_figure(losses: dict[str, list[float]]) -> dict:
    """f at each step of each optimizer, on a log scale (the colours match descent_paths_figure's)."""
    traces = [
        {
            "type": "scatter",
            "y": loss,
            "mode": "lines",
            "name": name,
            "line": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (name, loss) in enumerate(losses.items())
    ]
    return {
        "data": traces,
        "layout": {
            "height": 420,
            "title": {"text": _("f per step")},
            "margin": {"t": 40},
            "yaxis": {"type": "log", "exponentformat": "power"},  # 10⁻⁶ … 10⁶, not 1μ … 1M
            "xaxis": {"title": {"text": _("step")}},
        },
    }


def per_class_figure(accuracy: dict[str, dict[str, float]], chance: float | None = None) -> dict:
    """Accuracy per class in percent, one bar group per class and one colour per run; classes sorted by the
    first run's accuracy, best first. `accuracy` maps run names to {class: accuracy in 0..1}; `chance` (0..1)
    draws a dotted line where guessing at random would be."""
    first = next(iter(accuracy.values()))
    bars = [
        {
            "type": "bar",
            "x": list(per_class),
            "y": [100 * a for a in per_class.values()],
            "name": name,
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (name, per_class) in enumerate(accuracy.items())
    ]
    if chance is not None:
        # named in the legend, above the plot: a label on the line itself would sit on the bars
        bars.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "lines",
                "name": t("chance ({percent} %)", percent=format(100 * chance, ".3g")),
                "line": {"dash": "dot", "color": "gray"},
                "hoverinfo": "skip",
            }
        )
    return {
        "data": bars,
        "layout": {
            "title": {"text": _("Accuracy per class (%)")},
            "showlegend": True,
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
            "barmode": "group",
            "xaxis": {
                "type": "category",
                "categoryorder": "array",
                "categoryarray": sorted(first, key=lambda c: -first[c]),
            },
            "yaxis": {"range": [0, 100]},
            "height": 420,
            "margin": {"t": 80},  # the title, then the legend above the plot
            "shapes": []
            if chance is None
            else [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": 100 * chance,
                    "y1": 100 * chance,
                    "line": {"dash": "dot", "color": "gray"},
                }
            ],
        },
    }


def confusion_figure(matrix: list[list[float]], classes: list[str], normalized: bool) -> dict:
    """The confusion matrix as a heatmap, true classes down, predicted across; `normalized`: row shares.

    Its cells can be clicked (st.plotly_chart's on_select): plotly selects no heatmap cells, so a marker
    sits on each, invisible until selected, with customdata [true index, predicted index] for
    core.evaluation.confusion_cell; the selected cell gets an outline."""
    cells = [(y, p) for y in range(len(classes)) for p in range(len(classes))]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": matrix,
                "x": classes,
                "y": classes,
                "colorscale": "Blues",
                "texttemplate": "%{z:.2f}" if normalized else "%{z}",
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": [classes[p] for _y, p in cells],
                "y": [classes[y] for y, _p in cells],
                "customdata": [[y, p] for y, p in cells],
                "text": [f"{matrix[y][p]:.2f}" if normalized else f"{matrix[y][p]:.0f}" for y, p in cells],
                "hovertemplate": t(
                    "true {true} → predicted {predicted}: {value}",
                    true="%{y}",
                    predicted="%{x}",
                    value="%{text}",
                )
                + "<extra></extra>",
                "marker": {"symbol": "square-open", "size": 26, "color": PALETTE[0], "opacity": 0},
                "selected": {"marker": {"opacity": 1}},
                "unselected": {"marker": {"opacity": 0}},
                "showlegend": False,
            },
        ],
        "layout": {
            "title": {"text": _("Confusion matrix")},
            "height": 420,
            "margin": {"t": 40},
            "xaxis": {"title": {"text": _("predicted")}, "type": "category"},
            "yaxis": {"title": {"text": _("true")}, "type": "category", "autorange": "reversed"},
        },
    }


def topk_figure(top: list[tuple[str, float]]) -> dict:
    """An image's top-k classes as horizontal bars in percent, the most probable at the top."""
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [c for c, _p in top][::-1],
                "x": [100 * p for _c, p in top][::-1],
                "marker": {"color": PALETTE[0]},
                "texttemplate": "%{x:.1f} %",
                "textposition": "outside",
                # drawn past the plot's edge, into the right margin: "100.0 %" is never cut
                "cliponaxis": False,
                "constraintext": "none",
            }
        ],
        "layout": {
            "height": 60 + 28 * len(top),
            "margin": {"l": 10, "r": 70, "t": 10, "b": 10},
            # a probability ends at 100 %: the axis too (it ran to 125 to make room for the labels)
            "xaxis": {
                "range": [0, 100],
                "tickvals": [0, 25, 50, 75, 100],
                "title": {"text": _("probability (%)")},
            },
        },
    }


def plot(fig: dict, key: str, **kw) -> None:
    """Draw `fig` in the current container with the app's chart settings (no plotly logo in the toolbar).

    `key` keeps the chart's identity (and the user's zoom) across reruns; `kw` goes to st.plotly_chart."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False}, **kw)


# --- tensors ---


def heatmap_figure(
    z: Sequence[Sequence[float | None]], rows: Sequence[int], cols: Sequence[int], integer: bool = False
) -> dict:
    """A tensor's values as a heatmap; `rows` and `cols` are the indices the cells start at (a downsampled
    tensor's cells stand for blocks). Up to 64 cells, each shows its value: whole numbers for an `integer`
    tensor, else 3 significant digits without trailing zeros. The colour bar's ticks read 5e-13, never
    SI prefixes (0.5p) that look like units."""
    few = len(rows) * len(cols) <= 64
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": list(cols),
                "y": list(rows),
                "colorscale": "RdBu",
                "reversescale": True,
                "texttemplate": ("%{z:d}" if integer else "%{z:.3~g}") if few else None,
                "hovertemplate": t(
                    "row {row}, column {column}: {value}", row="%{y}", column="%{x}", value="%{z:.4~g}"
                )
                + "<extra></extra>",
                "colorbar": {"exponentformat": "e"},
            }
        ],
        "layout": {
            "height": min(80 + 40 * len(rows), 420),
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "yaxis": {"autorange": "reversed", "dtick": 1 if len(rows) <= 20 else None, "type": "category"},
            "xaxis": {"dtick": 1 if len(cols) <= 20 else None, "type": "category"},
        },
    }


# --- devices ---


def race_loss_figure(losses: dict[str, list[float]], title: str, x: str, y: str) -> dict:
    """The device race's loss per step, one line per device. Same weights and batches on every device, so
    the lines should lie on top of each other: the device changes the speed, not the result."""
    traces = [
        _line(pd.Series(range(1, len(values) + 1)), pd.Series(values), name, PALETTE[i % len(PALETTE)])
        for i, (name, values) in enumerate(losses.items())
    ]
    return _figure(traces, title, x, y)


def race_width_figure(rates: dict[str, list[tuple[int, float]]], title: str, x: str, y: str) -> dict:
    """Images/s against the network's width, one line per device (both axes logarithmic): where the lines
    cross is where the GPU starts to win."""
    traces = []
    for i, (name, points) in enumerate(rates.items()):
        widths, speeds = zip(*sorted(points))
        traces.append(
            _line(pd.Series(widths), pd.Series(speeds), name, PALETTE[i % len(PALETTE)], mode="lines+markers")
        )
    return _figure(traces, title, x, y, xaxis={"type": "log", "dtick": 0.30103}, yaxis={"type": "log"})


# --- practice ---


def clinic_figure(
    correct: Sequence[float], broken: Sequence[float], title: str, y: str, log: bool = False
) -> dict:
    """A clinic case's reading per step (loss or gradient norm) beside the correct loop's, the legend below.
    A loss is drawn on a linear axis from 0 to a little above chance level: a loss that shoots up runs off
    the top, which is the symptom, without squashing the correct curve flat. Gradient norms span powers of
    ten: a log axis. nan and inf end a line."""

    def finite(values: Sequence[float]) -> pd.Series:
        return pd.Series([v if v == v and abs(v) != float("inf") else None for v in values], dtype=object)

    lines = ((correct, _("correct loop"), PALETTE[2]), (broken, _("this loop"), PALETTE[0]))
    traces = [_line(pd.Series(range(1, len(v) + 1)), finite(v), name, color) for v, name, color in lines]
    if log:
        yaxis = {"type": "log", "exponentformat": "power", "dtick": 1}
    else:
        top = max([3.0] + [v for v in correct if v == v and abs(v) != float("inf")])
        yaxis = {"range": [0, 1.3 * top]}
    legend = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0, "xanchor": "left"}
    return _figure(
        traces, title, _("step"), y, yaxis=yaxis, legend=legend, margin={"l": 10, "r": 10, "t": 40, "b": 60}
    )
