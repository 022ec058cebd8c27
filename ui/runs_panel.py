"""The runs table: compare curves, download metrics and weights, resume, delete.

Every action names its run by id and the status the page showed, both fixed when the button was drawn:
a table re-listed between drawing and clicking (another tab started, resumed or deleted a run) can never
point the click at another run, and a run whose state changed meanwhile gets a message instead."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import jobs
from core.curves import epochs_frame, loss_curve
from core.runs import ACTIVE, RESUMABLE, Run, RunError, RunStore, run_row
from ui.charts import accuracy_figure, loss_figure, plot
from ui.downloads import run_downloads
from ui.i18n import N_, _, error_text, t
from ui.live import FOLLOWED, PAGE_HIDDEN
from ui.safe import md

MESSAGE = "runs_message"  # session_state: what the last action said, shown on the next run
WATCH_EVERY = 2.0  # seconds between checks of the training runs' statuses
# core.runs.STATUSES, marked here for the catalogs: a status is shown as _(status)
STATUS_NAMES = (
    N_("running"),
    N_("paused"),
    N_("stalled"),
    N_("completed"),
    N_("stopped"),
    N_("failed"),
    N_("interrupted"),
    N_("damaged"),
)


def run_columns() -> dict[str, object]:
    """The runs table's headers in the learner's language, for st.dataframe's column_config (the columns
    keep core.runs.run_row's names, which tests read)."""
    return {
        "run": _("run"),
        "status": _("status"),
        "model": _("model"),
        "preset": _("preset"),
        "data": _("data"),
        "device": _("device"),
        "epochs": _("epochs"),
        "best accuracy": st.column_config.NumberColumn(_("best accuracy (%)"), format="%.2f"),
        "train s": st.column_config.NumberColumn(_("training time (s)"), format="%.1f"),
        "created": _("created"),
        "size MB": st.column_config.NumberColumn(
            _("size (MB)"), format="%.1f", help=_("Disk space the run takes: click the header to sort by it.")
        ),
        "problems": _("problems"),
    }


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run (core.runs.run_row), its status and problems in the learner's language."""
    rows = []
    for run in runs:
        row = run_row(run)
        rows.append(
            {
                **row,
                "status": _(row["status"]),
                "preset": _(row["preset"]) if row["preset"] == "custom" else row["preset"],
                "problems": "; ".join(error_text(p) for p in run.problems()) if row["problems"] else "",
            }
        )
    return pd.DataFrame(rows)


def _current(store: RunStore, run_id: str, seen: str) -> Run | None:
    """The run, if it is still in the state the page showed; else None, with a message."""
    try:
        run = store.open(run_id)
    except RunError:
        st.session_state[MESSAGE] = t("Run {run} no longer exists.", run=run_id)
        return None
    if (status := run.status) != seen:
        st.session_state[MESSAGE] = t(
            "Run {run} is now {status} (it was {seen} when the page showed it); nothing was done. "
            "Look again, then retry.",
            run=run_id,
            status=_(status),
            seen=_(seen),
        )
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
    cols = st.columns([1, 2, 1, 1])
    cols[0].button(
        _("📈 Show live"),
        key="runs_show",
        help=_("Show this run in the live view above."),
        on_click=_show,
        args=(run.id,),
    )
    with cols[1]:
        run_downloads(run, "runs")
    if status in RESUMABLE:
        cols[2].button(_("▶ Resume"), key="runs_resume", on_click=_resume, args=(store, run.id, status))
    with cols[3].popover(_("🗑 Delete"), disabled=status in ACTIVE):
        st.markdown(t("Delete {run} and its checkpoints for good?", run=md(run.id)))
        st.button(
            _("Yes, delete"),
            key="runs_delete",
            type="primary",
            on_click=_delete,
            args=(store, run.id, status),
        )


def changed_statuses(store: RunStore, shown: dict[str, str]) -> bool:
    """Whether any of the runs the table shows (run id → status shown) is now in another state, or gone."""
    for run_id, seen in shown.items():
        try:
            if store.open(run_id).status != seen:
                return True
        except RunError:
            return True
    return False


@st.fragment(run_every=WATCH_EVERY)
def _watch(store: RunStore, shown: dict[str, str]) -> None:
    """Draws nothing: while a run trains, a pause, resume or end decided in the live view (a fragment of
    its own) or by the training process redraws the page, so the table never shows a stale status."""
    if changed_statuses(store, shown):
        st.rerun(scope="app")


def runs_panel(store: RunStore) -> None:
    if message := st.session_state.pop(MESSAGE, None):
        st.warning(md(message))
    runs = store.list()
    if not runs:
        st.info(_("No runs yet: start one above."))
        return
    ids = [r.id for r in runs]
    # the selection belongs to this exact list of runs: a different list is a new table with no selection
    key = "runs_table:" + hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]
    picked = st.dataframe(
        runs_frame(runs),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=key,
        column_config=run_columns(),
        placeholder="–",  # a run in progress has no best accuracy or training time yet
    )
    # a hidden page (another tab in front, as the live view last heard) watches nothing: no timer; nor is
    # the run the live view follows watched twice
    followed = st.session_state.pop(FOLLOWED, None)  # set by this run of the page, if it shows the live view
    active = {r.id: r.status for r in runs if r.status in ACTIVE and r.id != followed}
    if active and not st.session_state.get(PAGE_HIDDEN):
        _watch(store, active)
    chosen = [runs[i] for i in picked.selection.rows if i < len(runs)]
    if not chosen:
        st.caption(
            _("Select rows to compare their curves, download their metrics or weights, resume or delete.")
        )
        return
    weight = st.slider(_("Smoothing"), 0.0, 0.99, 0.8, 0.01, key="runs_smoothing")
    events = {r.id: r.events() for r in chosen}
    left, right = st.columns(2)
    with left:
        plot(loss_figure({k: loss_curve(v, weight) for k, v in events.items()}, show_raw=False), "runs_loss")
    with right:
        plot(accuracy_figure({k: epochs_frame(v) for k, v in events.items()}), "runs_acc")
    if len(chosen) == 1:
        _actions(chosen[0], store, chosen[0].status)
