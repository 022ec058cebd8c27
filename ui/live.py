"""The live view of one run: controls, progress, curves and a prediction gallery, refreshed every second."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.curves import epochs_frame, loss_curve, progress
from core.runs import ACTIVE, RESUMABLE, EventLog, Run, RunError, RunStore
from ui.charts import accuracy_figure, loss_figure, lr_figure, plot
from ui.data import run_samples
from ui.train_form import use_demo_data

LIVE_POINTS = 600  # per curve: enough for the eye, cheap to send and draw every second
STATUS_BADGE = {
    "running": ("🟢", "green"),
    "paused": ("⏸️", "orange"),
    "completed": ("✅", "green"),
    "stopped": ("⏹️", "gray"),
    "failed": ("❌", "red"),
    "interrupted": ("⚠️", "orange"),
}


def format_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _events(run: Run) -> list[dict]:
    """This session's incremental reader of the run's metrics file."""
    key = f"eventlog:{run.path}"
    if key not in st.session_state:
        st.session_state[key] = EventLog(run.metrics_path)
    return st.session_state[key].refresh()


def _controls(run: Run, store: RunStore, status: str) -> None:
    row = st.container(horizontal=True)
    try:
        if status == "running":
            row.button("⏸ Pause", key="live_pause", on_click=jobs.send, args=(run, "pause"))
        elif status == "paused":
            row.button("▶ Resume", key="live_resume", on_click=jobs.send, args=(run, "resume"))
        if status in ACTIVE:
            row.button("⏹ Stop", key="live_stop", type="primary", on_click=jobs.send, args=(run, "stop"))
        elif (
            status in RESUMABLE
            and run.checkpoint_path.exists()
            and row.button("▶ Resume run", key="live_resume_run", help="continue from the last checkpoint")
        ):
            jobs.resume(run, store)
            st.rerun()
    except (jobs.DeviceBusy, RunError) as e:
        st.error(str(e))


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
    if last is None or not run.samples_path.exists():
        return
    samples = run_samples(str(run.samples_path), run.samples_path.stat().st_mtime)
    classes, predicted, true = samples["classes"], last["samples"]["predicted"], last["samples"]["true"]
    right = sum(p == t for p, t in zip(predicted, true))
    st.markdown(f"**Test images after epoch {last['epoch']}** — {right}/{len(true)} right")
    per_row = 8
    for start in range(0, len(true), per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, range(start, min(start + per_row, len(true)))):
            col.image(samples["png"][i], width=64)
            p, t = classes[predicted[i]], classes[true[i]]
            col.markdown(f":green[{p}]" if p == t else f":red[{p}]  \n:gray[(is {t})]")


def _body(run_id: str, store: RunStore) -> None:
    try:
        run = store.open(run_id)
    except RunError as e:
        st.error(str(e))
        return
    summary, cfg = run.summary(), run.config()
    status = summary.get("status", "interrupted")
    events = _events(run)
    p = progress(events)
    icon, color = STATUS_BADGE.get(status, ("", "gray"))
    st.markdown(f"#### {icon} `{run.id}` · :{color}[{status}]")
    st.caption(
        f"{cfg['model']} · {cfg.get('preset') or 'custom recipe'} · data: {cfg['data']} · "
        f"device: {summary.get('device', cfg['device'])} · batch {cfg['batch_size']} · "
        f"{cfg['optimizer']} lr {cfg['lr']:g}"
    )
    _controls(run, store, status)
    if status in ACTIVE and st.session_state.get("live_refresh") == "paused":
        st.button("↻ Refresh now", key="live_refresh_now")
    if status == "failed":
        st.error(f"Training failed: {summary.get('reason', 'no reason recorded')}")
        if "Could not download CIFAR-10" in summary.get("reason", ""):
            st.button("Use the demo data instead", on_click=use_demo_data, key="live_demo")
    elif status == "interrupted":
        st.warning(
            "The training process ended without saying why (the app or machine stopped?). "
            "Resume continues from the last checkpoint."
        )
        with st.expander("train.log"):
            st.code(jobs.log_tail(run) or "(empty)", language="text")
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
            accuracy_figure({run.id: epochs}, reference=1 / len(summary.get("classes") or range(10))),
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
