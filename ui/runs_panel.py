"""The runs table: compare curves, download metrics and weights, resume, delete.

Every action names its run by id and the status the page showed, both fixed when the button was drawn:
a table re-listed between drawing and clicking (another tab started, resumed or deleted a run) can never
point the click at another run, and a run whose state changed meanwhile gets a message instead."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import jobs
from core.curves import epochs_frame, loss_curve, metrics_csv
from core.runs import ACTIVE, RESUMABLE, Run, RunError, RunStore, run_row
from ui.charts import accuracy_figure, loss_figure
from ui.i18n import _, error_text
from ui.safe import md

MESSAGE = "runs_message"  # session_state: what the last action said, shown on the next run


def _current(store: RunStore, run_id: str, seen: str) -> Run | None:
    """The run, if it is still in the state the page showed; else None, with a message."""
    try:
        run = store.open(run_id)
    except RunError:
        st.session_state[MESSAGE] = _("Run {run} no longer exists.").format(run=run_id)
        return None
    if (status := run.status) != seen:
        st.session_state[MESSAGE] = _(
            "Run {run} is now {status} (it was {seen} when the page showed it); nothing was done. "
            "Look again, then retry."
        ).format(run=run_id, status=status, seen=seen)
        return None
    return run


def _delete(store: RunStore, run_id: str, seen: str) -> None:
    if _current(store, run_id, seen) is None:
        return
    try:
        store.delete(run_id)
    except (RunError, OSError) as e:
        st.session_state[MESSAGE] = error_text(e)
        return
    if st.query_params.get("run") == run_id:
        del st.query_params["run"]


def _resume(store: RunStore, run_id: str, seen: str) -> None:
    if (run := _current(store, run_id, seen)) is None:
        return
    try:
        jobs.resume(run, store)
    except RunError as e:
        st.session_state[MESSAGE] = error_text(e)
        return
    st.query_params["run"] = run_id


def _show(run_id: str) -> None:
    st.query_params["run"] = run_id


def _actions(run: Run, store: RunStore, status: str) -> None:
    cols = st.columns(5)
    cols[0].button(
        "📈 Show live",
        key="runs_show",
        help="show this run in the live view above",
        on_click=_show,
        args=(run.id,),
    )
    cols[1].download_button(
        "⬇ metrics.csv",
        metrics_csv(run.events()),
        file_name=f"{run.id}-metrics.csv",
        mime="text/csv",
        key="runs_csv",
    )
    if run.file_usable(run.model_path):
        cols[2].download_button(
            "⬇ model.pth",
            run.model_path.read_bytes(),
            file_name=f"{run.id}.pth",
            key="runs_pth",
            help="net.load_state_dict(torch.load(PATH, weights_only=True))",
        )
    if status in RESUMABLE:
        cols[3].button("▶ Resume", key="runs_resume", on_click=_resume, args=(store, run.id, status))
    with cols[4].popover("🗑 Delete", disabled=status in ACTIVE):
        st.markdown(_("Delete {run} and its checkpoints for good?").format(run=f"`{run.id}`"))
        st.button(
            "Yes, delete", key="runs_delete", type="primary", on_click=_delete, args=(store, run.id, status)
        )


def runs_panel(store: RunStore) -> None:
    if message := st.session_state.pop(MESSAGE, None):
        st.warning(md(message))
    runs = store.list()
    if not runs:
        st.info("No runs yet: start one above.")
        return
    ids = [r.id for r in runs]
    # the selection belongs to this exact list of runs: a different list is a new table with no selection
    key = "runs_table:" + hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]
    picked = st.dataframe(
        pd.DataFrame([run_row(r) for r in runs]),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=key,
        column_config={
            "best accuracy": st.column_config.NumberColumn(format="%.2f %%"),
            "train s": st.column_config.NumberColumn(format="%.1f"),
            "problems": _("problems"),
        },
    )
    chosen = [runs[i] for i in picked.selection.rows if i < len(runs)]
    if not chosen:
        st.caption(
            "Select rows to compare their curves, download their metrics or weights, resume or delete."
        )
        return
    weight = st.slider("Smoothing", 0.0, 0.99, 0.8, 0.01, key="runs_smoothing")
    events = {r.id: r.events() for r in chosen}
    left, right = st.columns(2)
    left.plotly_chart(
        loss_figure({k: loss_curve(v, weight) for k, v in events.items()}, show_raw=False),
        key="runs_loss",
        config={"displaylogo": False},
    )
    right.plotly_chart(
        accuracy_figure({k: epochs_frame(v) for k, v in events.items()}),
        key="runs_acc",
        config={"displaylogo": False},
    )
    if len(chosen) == 1:
        _actions(chosen[0], store, chosen[0].status)
