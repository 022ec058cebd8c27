"""The live view of one run: controls, progress, curves and a prediction gallery, current while it trains.

Watching must not slow training: the browser and this server share the CPU with it. So the view is four
fragments, each redrawn only when what it shows can have changed:
- the header (status, recipe, controls, messages): when the run's status changes or one of its buttons
  is pressed (so a stalled run's silence and a damaged-file warning are as of that moment);
- the status (progress, readings): every second (or as the user chose), a few small elements, its
  progress bars without the width animation and the page's loading placeholders without their shimmer
  (docs/BENCHMARKS.md); it notices a status change;
- the charts (curves, references, learning-rate changes, the tutorial's console, downloads): every
  CHARTS_EVERY seconds, since redrawing the plotly charts costs the browser most (each redraw re-creates
  them: docs/BENCHMARKS.md); the curves are read incrementally (core.curves.StepTable) and downsampled to
  LIVE_POINTS;
- the gallery: every GALLERY_EVERY seconds (it changes once an epoch).
A tab the user cannot see does not refresh at all: a tiny component reports the page's visibility, and a
hidden page gets the fragments without a timer until it is shown again.

Every status refresh reaps finished training processes and reads the run's status from the process table
(core.runs), so a job killed from outside shows `interrupted` with its log and a Resume button on the next
refresh, without a reload. A run that is not training is watched too (`_watch`, every WATCH_EVERY seconds,
drawing nothing): whoever changes its status (a resume from a terminal, another tab), the page redraws.

Reasons and refusals are stored as message ids plus values (core.messages.stored_message) and shown in the
page's language; an older run's English reason shows as it was written."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core import jobs
from core.curves import StepTable, curve_from_steps, epochs_frame, progress, smooth
from core.messages import stored_message
from core.reference import References, references_for
from core.runs import ACTIVE, RESUMABLE, EventLog, Run, RunError, RunStore
from ui.charts import accuracy_figure, loss_figure, lr_figure, plot
from ui.data import run_samples
from ui.downloads import run_downloads
from ui.i18n import N_, _, choice_key, error_text, t, translated
from ui.recipe_view import console_panel
from ui.safe import md
from ui.train_form import use_demo_data

LIVE_POINTS = 600  # per curve: enough for the eye, cheap to send and draw
# seconds between chart redraws while training (at most as often as the status): each redraw costs the
# browser about 0.3 CPU-s, taken from training. Every 10 s rather than 5 s, with the still placeholders below,
# took the watched page's browser time from 0.209 to 0.158 CPU-s/s (docs/BENCHMARKS.md, issue 25).
CHARTS_EVERY = 10.0
GALLERY_EVERY = 10.0  # the gallery changes once an epoch
WATCH_EVERY = 1.0  # a run that is not training: its status checked this often (as a training one's)
SMOOTHING = 0.6  # the smoothing slider's default
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
FOLLOWED = "live_followed"  # the run whose status the live view polls, if any
SHOWN_STATUS = "live_shown_status"  # the run's status when the page was last drawn whole
# less often: faster training. "off", not "paused": paused is the run's status (已暂停); the page that stops
# refreshing says 停止刷新, the glossary's other word
REFRESH = {N_("every second"): 1.0, N_("every 5 s"): 5.0, N_("off"): None}


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


def _steps(run: Run, events: list[dict]):
    """The run's step events as a frame, extended incrementally (this session's StepTable)."""
    key = f"steptable:{run.path}"
    if key not in st.session_state:
        st.session_state[key] = StepTable()
    return st.session_state[key].update(events)


def _open(run_id: str, store: RunStore) -> Run | None:
    """The run, or None (a message) when it is gone: deleted by another tab meanwhile."""
    try:
        return store.open(run_id)
    except RunError as e:
        st.error(md(error_text(e)))
        return None


def _act(action: Callable[[Run], object], run_id: str, store: RunStore) -> None:
    """Run an action on a run by id (a callback): a run another tab resumed or deleted meanwhile, or a value
    the run refuses, leaves a message instead."""
    try:
        action(store.open(run_id))
    except RunError as e:
        st.session_state["live_message"] = e


def _controls(run: Run, store: RunStore, status: str) -> None:
    row = st.container(horizontal=True)
    if status == "running":
        row.button(_("⏸ Pause"), key="live_pause", on_click=jobs.send, args=(run, "pause"))
    elif status == "paused":
        row.button(_("▶ Resume"), key="live_resume", on_click=jobs.send, args=(run, "resume"))
    if status in ACTIVE:
        row.button(_("⏹ Stop"), key="live_stop", type="primary", on_click=jobs.send, args=(run, "stop"))
    if status == "stalled":
        row.button(
            _("End the process"),
            key="live_end",
            on_click=_act,
            args=(jobs.end_process, run.id, store),
            help=_("It no longer answers Stop; its last checkpoint stays, and Resume continues from it."),
        )
    elif status in RESUMABLE:
        row.button(
            _("▶ Resume run"),
            key="live_resume_run",
            on_click=_act,
            args=(lambda r: jobs.resume(r, store), run.id, store),
            help=_("Continue from the last checkpoint (from the start when there is none yet)."),
        )
    # set by callbacks, which run before the page knows its language: translated here
    if message := st.session_state.pop("live_message", None):
        st.error(md(error_text(message)))
    if (notice := st.session_state.get("live_notice")) and status == "paused":
        st.success(md(_(notice)))  # until the run resumes
    elif notice:
        del st.session_state["live_notice"]


# what a paused run may change: label and the +/- step (the form's)
RETUNE_FIELDS = {
    "lr": (N_("Learning rate"), 0.001),
    "momentum": (N_("Momentum"), 0.05),
    "weight_decay": (N_("Weight decay"), 1e-4),
}


def _in_force(run: Run, summary: dict) -> dict[str, float]:
    """The hyper-parameters the run trains with now: the last change applied, else its config's."""
    cfg, changed = run.config(), summary.get("hyperparameters") or {}
    values = {k: changed.get(k, cfg.get(k)) for k in RETUNE_FIELDS}
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}


def _apply_retune(run_id: str, store: RunStore, before: dict[str, float]) -> None:
    """Send the edited values that differ from those in force (a callback of the Apply button)."""
    edited = {k: st.session_state.get(f"live_set_{k}") for k in before}
    values = {k: float(v) for k, v in edited.items() if isinstance(v, (int, float)) and v != before[k]}
    if not values:
        st.session_state["live_notice"] = N_("Nothing changed.")
        return
    _act(lambda run: jobs.retune(run, values), run_id, store)
    if "live_message" not in st.session_state:
        st.session_state["live_notice"] = N_("Sent: the run takes the new values when you resume it.")


def _retune(run: Run, store: RunStore, summary: dict) -> None:
    """While paused: the learning rate, momentum and weight decay to continue with (issue 15, item 6)."""
    before = _in_force(run, summary)
    with st.form("live_retune", border=True):
        st.markdown(_("**Change the recipe before resuming**"))
        cols = st.columns(len(before))
        for col, (name, value) in zip(cols, before.items()):
            label, step = RETUNE_FIELDS[name]
            col.number_input(_(label), value=value, format="%g", step=step, key=f"live_set_{name}")
        st.caption(
            _(
                "Under a schedule the new learning rate scales the rest of it. With Adam, momentum is its "
                "first beta. The change is recorded as an event and kept in the checkpoint."
            )
        )
        st.form_submit_button(
            _("Apply"), key="live_apply", on_click=_apply_retune, args=(run.id, store, before)
        )


def _recipe(cfg: dict, summary: dict) -> str:
    """One line saying what the run trains (the lr in force, if it was changed), as markdown-safe text
    (config.json may hold anything)."""
    return md(
        t(
            "{model} · {preset} · data: {data} · device: {device} · batch {batch} · {optimizer} lr {lr}",
            model=cfg.get("model", "?"),
            preset=cfg.get("preset") or _("custom recipe"),
            data=cfg.get("data", "?"),
            device=summary.get("device", cfg.get("device", "?")),
            batch=_number(cfg.get("batch_size", "?")),
            optimizer=cfg.get("optimizer", "?"),
            lr=_number((summary.get("hyperparameters") or {}).get("lr", cfg.get("lr", "?"))),
        )
    )


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and math.isfinite(value) else str(value)


def _log(run: Run) -> None:
    with st.expander("train.log", expanded=True):
        st.code(jobs.log_tail(run) or _("(empty)"), language="text")


def _problems(run: Run, summary: dict, status: str) -> None:
    """What went wrong, if anything: damaged files, a failure's reason, a dead or silent process."""
    if problems := run.problems(_event_log(run)):
        found = " · ".join(error_text(e) for e in problems)
        st.warning(md(t("Some of this run's files are damaged: {problems}", problems=found)))
    if status == "failed":
        stored = stored_message(summary, "reason")
        reason = error_text(stored) if stored else _("no reason recorded")
        st.error(md(t("Training failed: {reason}", reason=reason)))
        if "Could not download CIFAR-10" in stored:
            st.button(_("Use the demo data instead"), on_click=use_demo_data, key="live_demo")
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
            t(
                "No sign of life from the training process for {seconds} s, far longer than its usual "
                "pace: it may hang. Stop it, or end the process and resume.",
                seconds=summary.get("quiet_seconds", "?"),
            )
        )
        _log(run)


def _smoothing() -> float:
    """The smoothing slider's value; a value this session kept from an older app (not a number in the
    slider's range) is dropped for the default."""
    value = st.session_state.get("live_smoothing", SMOOTHING)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 0.99:
        st.session_state.pop("live_smoothing", None)
        return SMOOTHING
    return float(value)


def _readings(run: Run, store: RunStore, summary: dict, p: dict, log: EventLog) -> None:
    """Loss, test accuracy, images/s (now and the run's average) and training time. Read from the newest
    events only: the cost of a refresh must not grow with the run."""
    # the last 2,000 steps give the smoothed value to within 0.99 ** 2000 of the whole curve's
    tail = [e["loss"] for e in log.events[-2100:] if e["type"] == "step"][-2000:]
    losses = smooth(pd.Series(tail, dtype=float), _smoothing())
    acc = [e["test_accuracy"] for e in log.epochs[-2:]]  # the last two, newest last
    # two rows, the rates together: five columns cut 中文 labels such as 当前吞吐量（图像/秒） at 1024 px
    first, second = st.columns(3), st.columns(3)
    m = [first[0], first[1], second[0], second[1], first[2]]  # loss, accuracy, time; then the two rates
    m[0].metric(_("Loss (smoothed)"), f"{losses.iloc[-1]:.3f}" if len(losses) else "–")
    m[1].metric(
        _("Test accuracy"),
        f"{100 * acc[-1]:.1f} %" if acc else "–",
        f"{100 * (acc[-1] - acc[-2]):+.1f}" if len(acc) > 1 else None,
        help=_reference_help(_references(run, store, summary)),
    )
    now = p["images_per_s"] if summary["status"] == "running" else 0
    m[2].metric(
        _("Images/s now"),
        f"{now:,.0f}" if now else "–",
        help=_("Training images per second over the last half second (while the run trains)."),
    )
    average = summary.get("images_per_s")
    m[3].metric(
        _("Images/s average"),
        f"{average:,.0f}" if isinstance(average, (int, float)) and average > 0 else "–",
        help=_(
            "The run's training images per second of training time, without the test after each epoch "
            "(updated after each epoch)."
        ),
    )
    m[4].metric(_("Training time"), format_seconds(summary.get("train_seconds")))


def _header(run_id: str, store: RunStore, refresh: str) -> None:
    """Status badge, recipe, controls, messages: redrawn when the run's status changes (or a button here is
    pressed), not on every refresh."""
    jobs.reap(store)  # a finished child of this server must not linger as a zombie
    if (run := _open(run_id, store)) is None:
        return
    summary = run.summary()
    status = summary["status"]
    if status != st.session_state.get(SHOWN_STATUS):  # changed by a button here: new timers, runs table
        st.rerun(scope="app")
    icon, color = STATUS_BADGE.get(status, ("", "gray"))
    st.markdown(f"#### {icon} `{run.id}` · :{color}[{_(status)}]")
    st.caption(_recipe(run.config(), summary))
    _controls(run, store, status)
    if status == "paused":
        _retune(run, store, summary)
    if (
        status in ACTIVE
        and REFRESH[refresh] is None
        and st.button(_("↻ Refresh now"), key="live_refresh_now")
    ):
        st.rerun(scope="app")
    _problems(run, summary, status)


def _status(run_id: str, store: RunStore) -> None:
    """Progress and readings: the few elements that change every refresh. A status other than the one the
    page was drawn for (paused, resumed, ended, stalled) redraws the whole page: header, runs table,
    timers."""
    jobs.reap(store)
    try:
        run = store.open(run_id)
    except RunError:  # deleted meanwhile (another tab): the page says so
        st.rerun(scope="app")
    summary = run.summary()
    if summary["status"] != st.session_state.get(SHOWN_STATUS):
        st.rerun(scope="app")
    log = _event_log(run)
    log.refresh()
    p = progress(log)
    if p["data"]:
        d = p["data"]
        st.progress(d["done"] / d["total"], text=f"{_(d['stage'])}: {d['done']:,} / {d['total']:,}")
    if p["epochs"]:
        eta = format_seconds(p["eta_seconds"]) if summary["status"] in ACTIVE else "–"
        text = t(
            "epoch {epoch}/{epochs} · step {step}/{steps} · ETA {eta}",
            epoch=p["epoch"],
            epochs=p["epochs"],
            step=format(p["step"], ","),
            steps=format(p["steps_per_epoch"], ","),
            eta=eta,
        )
        st.progress(p["fraction"], text=text)
    _readings(run, store, summary, p, log)


def _references(run: Run, store: RunStore, summary: dict) -> References:
    """Chance, the tutorial's 54 % (CIFAR-10 only) and the best earlier run on the same data; computed
    once per run and class list in this session (listing every run is not for every refresh)."""
    key = ("live_refs", run.id, tuple(summary.get("classes") or ()))
    if st.session_state.get("live_refs_key") != key:
        st.session_state["live_refs"] = references_for(run, store.list())
        st.session_state["live_refs_key"] = key
    return st.session_state["live_refs"]


def _reference_lines(refs: References) -> dict[str, float]:
    lines = {_("chance"): refs.chance} if refs.chance is not None else {}
    if refs.tutorial is not None:
        lines[_("the tutorial's Net on CIFAR-10")] = refs.tutorial
    if refs.best_earlier is not None and refs.best_earlier.accuracy is not None:
        lines[_("best earlier run")] = refs.best_earlier.accuracy
    return lines


def _reference_help(refs: References) -> str:
    return " · ".join(f"{label}: {100 * value:.1f} %" for label, value in _reference_lines(refs).items())


def _changes(run: Run, events: list[dict]) -> None:
    """The learning-rate changes asked for while paused: applied (the values in force after) or refused;
    and control files the run refused (not text, too large)."""
    for c in (e for e in events if e.get("type") == "control"):
        reason = error_text(stored_message(c, "refused"))
        st.caption(md(t("The run ignored its control file: {reason}", reason=reason)))
    for c in (e for e in events if e.get("type") == "hyperparameters"):
        where = t("step {step}", step=format(c.get("global_step", 0), ","))
        if "refused" in c:
            reason = error_text(stored_message(c, "refused"))
            st.caption(md(t("{where}: change refused: {reason}", where=where, reason=reason)))
        else:
            values = " · ".join(f"{_(f[0])} {_number(c[k])}" for k, f in RETUNE_FIELDS.items() if k in c)
            st.caption(md(t("{where}: changed to {values}", where=where, values=values)))


def _charts(run_id: str, store: RunStore) -> None:
    """Loss (raw and smoothed, with the slider), test accuracy against its references, the learning rate
    with its changes, the tutorial's console lines and the run's files: redrawn every CHARTS_EVERY
    seconds while training."""
    if (run := _open(run_id, store)) is None:
        return
    summary = run.summary()
    events = _events(run)
    curve = curve_from_steps(_steps(run, events), _smoothing(), max_points=LIVE_POINTS)
    refs = _references(run, store, summary)
    changes = [e for e in events if e.get("type") == "hyperparameters" and "global_step" in e]
    left, right = st.columns([3, 2])
    with left:
        st.slider(_("Smoothing"), 0.0, 0.99, SMOOTHING, 0.01, key="live_smoothing")
        plot(loss_figure({run.id: curve}), key="live_loss")
    with right:
        acc = {run.id: epochs_frame(_event_log(run).epochs)}
        plot(accuracy_figure(acc, references=_reference_lines(refs)), key="live_acc")
        if len(curve):
            plot(lr_figure(curve, changes), key="live_lr")
        _changes(run, changes + [e for e in events if e.get("type") == "control"][-3:])
    console_panel(events, run.config().get("batch_size"))
    run_downloads(run, key="live")


def _gallery(run_id: str, store: RunStore) -> None:
    """The fixed sample test images with the latest epoch's predictions: green right, red wrong.

    Its own, slower fragment: it changes once an epoch, and its 64 elements would otherwise be re-sent
    and re-drawn every second, taking CPU from training."""
    try:
        run = store.open(run_id)
    except RunError:
        return
    log = _event_log(run)
    log.refresh()
    last = next((e for e in reversed(log.epochs) if "samples" in e), None)
    # samples.pt checked before it is decoded: a damaged one leaves the gallery out, not the page
    if last is None or not run.file_usable(run.samples_path):
        return
    samples = run_samples(str(run.samples_path), run.samples_path.stat().st_mtime)
    classes, predicted, true = samples["classes"], last["samples"]["predicted"], last["samples"]["true"]
    shown = min(len(true), len(samples["png"]))
    if not all(0 <= i < len(classes) for i in predicted[:shown] + true[:shown]):
        return
    right = sum(p == y for p, y in zip(predicted, true))
    st.markdown(
        t(
            "**Test images after epoch {epoch}** — {right}/{total} right",
            epoch=last["epoch"],
            right=right,
            total=len(true),
        )
    )
    per_row = 8
    for start in range(0, shown, per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, range(start, min(start + per_row, shown))):
            col.image(samples["png"][i], width=64)
            guess, label = md(classes[predicted[i]]), md(classes[true[i]])  # class names are folder names
            is_label = t("(is {label})", label=label)
            col.markdown(f":green[{guess}]" if guess == label else f":red[{guess}]  \n:gray[{is_label}]")


def _fragments(every: float | None) -> tuple:
    """The header, status, charts and gallery fragments for one refresh interval (None: no timer)."""
    if every is None:
        return st.fragment(_header), st.fragment(_status), st.fragment(_charts), st.fragment(_gallery)
    return (
        st.fragment(_header),
        st.fragment(run_every=every)(_status),
        st.fragment(run_every=max(every, CHARTS_EVERY))(_charts),
        st.fragment(run_every=max(every, GALLERY_EVERY))(_gallery),
    )


_views = {label: _fragments(every) for label, every in REFRESH.items()}


def _watch(run_id: str, store: RunStore) -> None:
    """Draws nothing: a run that is not training (finished, failed, stopped, interrupted, damaged) may change
    all the same (resumed from a terminal or another tab, deleted, a crash noticed): the page redraws for
    its new status, within WATCH_EVERY seconds, as it does for a running one."""
    jobs.reap(store)
    try:
        status = store.open(run_id).status
    except RunError:
        status = None
    if status != st.session_state.get(SHOWN_STATUS):
        st.rerun(scope="app")


_watcher = st.fragment(run_every=WATCH_EVERY)(_watch)

# Streamlit animates a progress bar's width on every change; refreshed every second, the bar is always
# animating and the browser repaints it at frame rate: 0.05 CPU-s/s for the two bars (docs/BENCHMARKS.md).
# The live view's bars jump instead. Loading placeholders (stSkeleton, stSkeletonElement, stAppSkeleton)
# shimmer without end, and on a page whose fragments keep rerunning some stay: they stand still here.
# (Other transitions stay: without them, Streamlit's fade of elements being redrawn flickers every second.)
_STILL_PAGE = (
    "<style>.st-key-live_status [data-testid='stProgress'] * { transition: none !important; }"
    " [data-testid*='Skeleton'], [data-testid*='Skeleton'] * { animation: none !important; }</style>"
)

# Reports whether the page is hidden (another tab in front, a minimised window): a hidden page need not
# refresh. A state value, so a change reruns the app, which then picks the fragments with or without timer.
_VISIBILITY_JS = """
export default function ({ setStateValue }) {
  const report = () => setStateValue("hidden", document.visibilityState === "hidden");
  report();
  document.addEventListener("visibilitychange", report);
  return () => document.removeEventListener("visibilitychange", report);
}
"""
_visibility = st.components.v2.component("blitzlab_page_visibility", js=_VISIBILITY_JS)


PAGE_HIDDEN = "live_page_hidden"  # what the last visibility report said, for the page's other timers


def _page_hidden() -> bool:
    result = _visibility(key="live_visibility", default={"hidden": False}, on_hidden_change=lambda: None)
    return bool(getattr(result, "hidden", False))


def live_view(run_id: str, store: RunStore) -> None:
    """Refresh while the run is active, as often as the user chose and only while the page is visible;
    draw once when it is finished."""
    jobs.reap(store)
    try:
        status = store.open(run_id).status
    except RunError:
        status = None
    # the status this drawing of the page is for (its timers, the runs table): a change reruns the page
    st.session_state[SHOWN_STATUS] = status
    active = status in ACTIVE
    choice = "off"
    if active:
        if st.session_state.get("live_refresh") not in REFRESH:  # absent, or a setting of an older app
            st.session_state["live_refresh"] = "every second"
        choice = st.radio(
            _("Live updates"),
            list(REFRESH),
            format_func=translated(list(REFRESH)),
            horizontal=True,
            key=choice_key("live_refresh"),
            help=t(
                "The page and the browser share the CPU with training: on a small CPU, refreshing less "
                "often trains faster. The progress and readings refresh as chosen; the charts and the test "
                "images at most every {seconds} s, as redrawing them costs the browser most. A page you "
                "cannot see (another tab in front) does not refresh.",
                seconds=round(CHARTS_EVERY),
            ),
        )
    st.session_state[PAGE_HIDDEN] = _page_hidden()
    if st.session_state[PAGE_HIDDEN]:
        choice = "off"
    elif not active:  # nothing refreshes: a status change from outside redraws the page
        _watcher(run_id, store)
    # the runs table need not watch this run's status too: the status fragment does
    st.session_state[FOLLOWED] = run_id if active and REFRESH[choice] is not None else None
    header, status, charts, gallery = _views[choice]
    header(run_id, store, choice)
    st.html(_STILL_PAGE)
    with st.container(key="live_status"):
        status(run_id, store)
    charts(run_id, store)
    gallery(run_id, store)
