"""Choosing a trained run, shared by the pages that use a saved model."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.config import make_config
from core.runs import Run, RunStore
from ui.i18n import _, error_text, t
from ui.safe import md

DEMO = make_config(
    data="synthetic", model="tutorial", optimizer="adam", lr=3e-3, batch_size=64, epochs=3, device="cpu"
)  # ~80 % on the shapes in a few seconds of CPU


def pick_trained_run(store: RunStore, label: str, key: str, hint: str = "") -> Run:
    """A selectbox of runs that saved a model, the latest completed one first; without any, a pointer to
    the training page (and the page stops there). `hint` (translated by the caller) ends that pointer's
    sentence, e.g. ", then draw a disc here". Runs whose config or saved model cannot be read are left
    out; the Train page lists them as damaged."""
    runs = [r for r in store.list() if r.config_problem() is None and r.file_usable(r.model_path)]
    if not runs:
        st.info(
            t(
                "No trained runs yet. Train one on the Train page: the demo shapes take seconds{hint}.",
                hint=hint,
            )
        )
        c = st.columns(2)
        c[0].page_link("pages/train.py", label=_("Train a classifier →"), icon="🏋️")
        if c[1].button(_("Train a 3-epoch demo on the shapes now (seconds)"), key=f"{key}_demo"):
            try:
                run = jobs.start(DEMO, store, name="demo")
                st.switch_page("pages/train.py", query_params={"run": run.id})
            except ValueError as e:  # the device is busy, or the runs folder cannot hold runs
                st.error(md(error_text(e)))
        st.stop()
    statuses = {r.id: r.status for r in runs}
    completed = [r for r in runs if statuses[r.id] == "completed"]
    labels = {r.id: f"{r.id} · {r.config()['model']} · {_(statuses[r.id])}" for r in runs}
    chosen = st.selectbox(
        label,
        list(labels),
        format_func=labels.get,
        index=runs.index(completed[0]) if completed else 0,
        key=key,
    )
    return runs[list(labels).index(chosen)] if chosen in labels else runs[0]
