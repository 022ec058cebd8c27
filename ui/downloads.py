"""A run's files, one click away: its metrics as CSV and its trained weights (model.pth)."""

from __future__ import annotations

import streamlit as st

from core.curves import metrics_csv
from core.runs import Run
from ui.i18n import _


def run_downloads(run: Run, key: str) -> None:
    """Download buttons for the run's metrics.csv and, once an epoch has saved it, its model.pth, side by
    side. The files are read when clicked, not on every rerun (a model can be tens of MB)."""
    left, right = st.columns(2)
    left.download_button(
        "⬇ metrics.csv",
        lambda: metrics_csv(run.events()),
        file_name=f"{run.id}-metrics.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        help=_("Every step's loss and learning rate, and each epoch's test results, as one table."),
    )
    if run.model_path.exists():
        right.download_button(
            "⬇ model.pth",
            run.model_path.read_bytes,
            file_name=f"{run.id}.pth",
            mime="application/octet-stream",
            key=f"{key}_pth",
            on_click="ignore",
            help=_("The trained weights (a state dict). Load them with:")
            + "\n\n`net.load_state_dict(torch.load(PATH, weights_only=True))`",
        )
