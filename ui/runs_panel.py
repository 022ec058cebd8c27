"""The runs table: compare curves, download metrics and weights, resume, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import jobs
from core.curves import epochs_frame, loss_curve, metrics_csv
from core.runs import RESUMABLE, Run, RunError, RunStore, run_row
from ui.charts import accuracy_figure, loss_figure


def _actions(run: Run, store: RunStore) -> None:
    status = run.status
    cols = st.columns(5)
    if cols[0].button("📈 Show live", key="runs_show", help="show this run in the live view above"):
        st.query_params["run"] = run.id
        st.rerun()
    cols[1].download_button(
        "⬇ metrics.csv",
        metrics_csv(run.events()),
        file_name=f"{run.id}-metrics.csv",
        mime="text/csv",
        key="runs_csv",
    )
    if run.model_path.exists():
        cols[2].download_button(
            "⬇ model.pth",
            run.model_path.read_bytes(),
            file_name=f"{run.id}.pth",
            key="runs_pth",
            help="net.load_state_dict(torch.load(PATH, weights_only=True))",
        )
    if status in RESUMABLE and run.checkpoint_path.exists() and cols[3].button("▶ Resume", key="runs_resume"):
        try:
            jobs.resume(run, store)
            st.query_params["run"] = run.id
            st.rerun()
        except (jobs.DeviceBusy, RunError) as e:
            st.error(str(e))
    with cols[4].popover("🗑 Delete", disabled=status in ("running", "paused")):
        st.write(f"Delete `{run.id}` and its checkpoints for good?")
        if st.button("Yes, delete", key="runs_delete", type="primary"):
            store.delete(run.id)
            if st.query_params.get("run") == run.id:
                del st.query_params["run"]
            st.rerun()


def runs_panel(store: RunStore) -> None:
    runs = store.list()
    if not runs:
        st.info("No runs yet: start one above.")
        return
    table = pd.DataFrame([run_row(r) for r in runs])
    picked = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="runs_table",
        column_config={
            "best accuracy": st.column_config.NumberColumn(format="%.2f %%"),
            "train s": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    chosen = [runs[i] for i in picked.selection.rows]
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
        _actions(chosen[0], store)
