"""The live view of one run: controls, progress, curves and a prediction gallery, refreshed every second.

Every refresh reaps finished training processes and reads the run's status from the process table
(core.runs), so a job killed from outside shows `interrupted` with its log and a Resume button on the next
refresh, without a reload."""

from __future__ import annotations

import math

import streamlit as st

from core import jobs
from core.curves import epochs_frame, loss_curve, progress
from core.runs import ACTIVE, RESUMABLE, EventLog, Run, RunError, RunStore
from ui.charts import accuracy_figure, loss_figure, lr_figure, plot
from ui.data import run_samples
from ui.i18n import _, error_text
from ui.safe import md
from ui.train_form import use_demo_data

LIVE_POINTS = 600  # per curve: enough for the eye, cheap to send and draw every second
STATUS_BADGE = {
    "running": ("🟢", "green"),
    "paused": ("⏸️", "orange"),
    "completed": ("✅", "green"),
    "stopped": ("⏹️", "gray"),
    "failed": ("❌", "red"),
    "interrupted": ("⚠️", "orange"),
    "stalled": ("⏳", "orange"),
    "damaged": ("🩹", "red"),
}


def format_seconds(s: float | None) -> str:
    if not isinstance(s, (int, float)) or not math.isfinite(s):
        return "–"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _event_log(run: Run) -> EventLog:
    """This session's incremental reader of the run's metrics file."""
    key = f"eventlog:{run.path}"
    if key not in st.session_state:
        st.session_state[key] = EventLog(run.metrics_path)
    return st.session_state[key]


def _events(run: Run) -> list[dict]:
    return _event_log(run).refresh()


def _resume(run_id: str, store: RunStore) -> None:
    """Resume by id (a callback): a run another tab resumed or deleted meanwhile gets a message."""
    try:
        jobs.resume(store.open(run_id), store)
    except RunError as e:
        st.session_state["live_message"] = error_text(e)


def _end_process(run_id: str, store: RunStore) -> None:
    try:
        jobs.end_process(store.open(run_id))
    except RunError as e:
        st.session_state["live_message"] = error_text(e)


def _controls(run: Run, store: RunStore, status: str) -> None:
    row = st.container(horizontal=True)
    if status == "running":
        row.button("⏸ Pause", key="live_pause", on_click=jobs.send, args=(run, "pause"))
    elif status == "paused":
        row.button("▶ Resume", key="live_resume", on_click=jobs.send, args=(run, "resume"))
    if status in ACTIVE:
        row.button("⏹ Stop", key="live_stop", type="primary", on_click=jobs.send, args=(run, "stop"))
    if status == "stalled":
        row.button(
            _("End the process"),
            key="live_end",
            on_click=_end_process,
            args=(run.id, store),
            help=_("It no longer answers Stop; its last checkpoint stays, and Resume continues from it."),
        )
    elif status in RESUMABLE:
        row.button(
            "▶ Resume run",
            key="live_resume_run",
            on_click=_resume,
            args=(run.id, store),
            help=_("Continue from the last checkpoint (from the start when there is none yet)."),
        )
    if message := st.session_state.pop("live_message", None):
        st.error(md(message))


def _gallery(run_id: str, store: RunStore) -> None:
    """The fixed sample test images with the latest epoch's predictions: green right, red wrong.

    Its own, slower fragment: it changes once an epoch, and its 64 elements would otherwise be re-sent
    and re-drawn every second, taking CPU from training."""
    try:
        run = store.open(run_id)
    except RunError:
        return
    events = _events(run)
    last = next((e for e in reversed(events) if e.get("type") == "epoch" and "samples" in e), None)
    # samples.pt checked before it is decoded: a damaged one leaves the gallery out, not the page
    if last is None or not run.file_usable(run.samples_path):
        return
    samples = run_samples(str(run.samples_path), run.samples_path.stat().st_mtime)
    classes, predicted, true = samples["classes"], last["samples"]["predicted"], last["samples"]["true"]
    shown = min(len(true), len(samples["png"]))
    if not all(0 <= i < len(classes) for i in predicted[:shown] + true[:shown]):
        return
    right = sum(p == t for p, t in zip(predicted, true))
    st.markdown(f"**Test images after epoch {last['epoch']}** — {right}/{len(true)} right")
    per_row = 8
    for start in range(0, shown, per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, range(start, min(start + per_row, shown))):
            col.image(samples["png"][i], width=64)
            p, t = md(classes[predicted[i]]), md(classes[true[i]])  # class names are folder names
            col.markdown(f":green[{p}]" if p == t else f":red[{p}]  \n:gray[(is {t})]")


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and math.isfinite(value) else str(value)


def _recipe(cfg: dict, summary: dict) -> str:
    """One line saying what the run trains, as markdown-safe text (config.json may hold anything)."""
    device = summary.get("device", cfg.get("device", "?"))
    return md(
        f"{cfg.get('model', '?')} · {cfg.get('preset') or 'custom recipe'} · data: {cfg.get('data', '?')} · "
        f"device: {device} · batch {_number(cfg.get('batch_size', '?'))} · "
        f"{cfg.get('optimizer', '?')} lr {_number(cfg.get('lr', '?'))}"
    )


def _class_count(summary: dict) -> int:
    classes = summary.get("classes")
    return len(classes) if isinstance(classes, list) and classes else 10


def _log(run: Run) -> None:
    with st.expander("train.log", expanded=True):
        st.code(jobs.log_tail(run) or "(empty)", language="text")


def _body(run_id: str, store: RunStore) -> None:
    jobs.reap(store)  # a finished child of this server must not linger as a zombie
    try:
        run = store.open(run_id)
    except RunError as e:
        st.error(md(error_text(e)))
        return
    summary, cfg = run.summary(), run.config()
    status = summary["status"]
    events = _events(run)
    p = progress(events)
    icon, color = STATUS_BADGE.get(status, ("", "gray"))
    st.markdown(f"#### {icon} `{run.id}` · :{color}[{status}]")
    st.caption(_recipe(cfg, summary))
    _controls(run, store, status)
    if status in ACTIVE and st.session_state.get("live_refresh") == "paused":
        st.button("↻ Refresh now", key="live_refresh_now")
    if problems := run.problems(_event_log(run)):
        found = " · ".join(error_text(e) for e in problems)
        st.warning(md(_("Some of this run's files are damaged: {problems}").format(problems=found)))
    if status == "failed":
        reason = str(summary.get("reason") or "no reason recorded")
        st.error(md(_("Training failed: {reason}").format(reason=reason)))
        if "Could not download CIFAR-10" in reason:
            st.button("Use the demo data instead", on_click=use_demo_data, key="live_demo")
    elif status == "interrupted":
        st.warning(
            _(
                "The training process ended without saying why (killed, or the app or machine stopped). "
                "Resume continues from the last checkpoint."
            )
        )
        _log(run)
    elif status == "stalled":
        st.warning(
            _(
                "No sign of life from the training process for {seconds} s, far longer than its usual "
                "pace: it may hang. Stop it, or end the process and resume."
            ).format(seconds=summary.get("quiet_seconds", "?"))
        )
        _log(run)
    if p["data"]:
        d = p["data"]
        st.progress(d["done"] / d["total"], text=f"{d['stage']}: {d['done']:,} / {d['total']:,}")
    if p["epochs"]:
        st.progress(
            p["fraction"],
            text=f"epoch {p['epoch']}/{p['epochs']} · step {p['step']:,}/"
            f"{p['steps_per_epoch']:,} · ETA {format_seconds(p['eta_seconds']) if status in ACTIVE else '–'}",
        )
    epochs = epochs_frame(events)
    weight = st.session_state.get("live_smoothing", 0.6)
    curve = loss_curve(events, weight, max_points=LIVE_POINTS)
    m = st.columns(4)
    m[0].metric("Loss (smoothed)", f"{curve['smoothed'].iloc[-1]:.3f}" if len(curve) else "–")
    acc = epochs["test_accuracy"]
    m[1].metric(
        "Test accuracy",
        f"{100 * acc.iloc[-1]:.1f} %" if len(acc) else "–",
        f"{100 * (acc.iloc[-1] - acc.iloc[-2]):+.1f}" if len(acc) > 1 else None,
    )
    m[2].metric("Images / s", f"{p['images_per_s']:,.0f}" if p["images_per_s"] else "–")
    m[3].metric(
        "Training time",
        format_seconds(epochs["train_seconds"].iloc[-1])
        if len(epochs)
        else format_seconds(summary.get("train_seconds")),
    )
    left, right = st.columns([3, 2])
    with left:
        st.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="live_smoothing")
        plot(loss_figure({run.id: curve}), key="live_loss")
    with right:
        plot(
            accuracy_figure({run.id: epochs}, reference=1 / _class_count(summary)),
            key="live_acc",
        )
        if len(curve):
            plot(lr_figure(curve), key="live_lr")
    was_active = st.session_state.get("live_was_active")
    st.session_state["live_was_active"] = status in ACTIVE
    if was_active and status not in ACTIVE:
        st.rerun(scope="app")  # the run just ended: refresh the runs table and stop polling


REFRESH = {
    "every second": 1.0,
    "every 5 s": 5.0,
    "paused": None,
}  # fewer refreshes leave more CPU to training
GALLERY_EVERY = 5.0
_views = {
    label: (st.fragment(run_every=every)(_body), st.fragment(run_every=max(every, GALLERY_EVERY))(_gallery))
    if every
    else (st.fragment(_body), st.fragment(_gallery))
    for label, every in REFRESH.items()
}


def live_view(run_id: str, store: RunStore) -> None:
    """Refresh every second while the run is active (or as the user chose); draw once when it is finished."""
    jobs.reap(store)
    try:
        active = store.open(run_id).status in ACTIVE
    except RunError:
        active = False
    st.session_state["live_was_active"] = active
    choice = "paused"
    if active:
        choice = (
            st.radio(
                "Live updates",
                list(REFRESH),
                horizontal=True,
                key="live_refresh",
                help="The page and the browser share the CPU with training: on a small CPU, "
                "refreshing less often trains faster.",
            )
            or "every second"
        )
    body, gallery = _views[choice]
    body(run_id, store)
    gallery(run_id, store)
