"""Choosing a trained run, shared by the pages that use a saved model."""
from __future__ import annotations

import streamlit as st

from core.runs import Run, RunStore


def pick_trained_run(store: RunStore, label: str, key: str, hint: str = "") -> Run:
    """A selectbox of runs that saved a model, the latest completed one first; without any, a pointer to
    the training page (and the page stops there)."""
    runs = [r for r in store.list() if r.model_path.exists()]
    if not runs:
        st.info("No trained runs yet. Train one on the Train page: the demo shapes take seconds" + hint + ".")
        st.page_link("pages/train.py", label="Train a classifier →", icon="🏋️")
        st.stop()
    completed = [r for r in runs if r.status == "completed"]
    labels = {r.id: f"{r.id} · {r.config()['model']} · {r.status}" for r in runs}
    chosen = st.selectbox(label, list(labels), format_func=labels.get,
                          index=runs.index(completed[0]) if completed else 0, key=key)
    return store.open(chosen)
