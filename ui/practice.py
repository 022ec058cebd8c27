"""练习 at a chapter's end, the fix-the-bug clinic, and the progress line on Home's chapter map.

The checking is core's (core/exercises.py, core/clinic.py); this module draws an exercise, keeps what the
learner did in session_state (answer, hints opened, the last feedback) and records progress in the file
core/progress.py keeps, so it survives reloads and server restarts. Each exercise is a fragment: checking
one reruns that card, not the page; a change of state (solved, solution seen) reruns the page so its
counts follow."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.challenges import CHALLENGES, board
from core.clinic import CASES, SLICE, Symptoms, case_run, correct_run
from core.exercise_bank import for_chapter
from core.exercises import AnswerError, Exercise, Feedback
from core.paths import runs_dir
from core.progress import Progress
from core.runs import Run, RunStore
from ui.charts import clinic_figure, plot
from ui.i18n import N_, _, choice_key, error_text, t
from ui.safe import md

STATE_LABELS = {
    "not tried": N_("not tried"),
    "tried": N_("tried"),
    "solution seen": N_("solution seen"),
    "solved": N_("solved"),
}
BADGES = {"not tried": "gray", "tried": "orange", "solution seen": "blue", "solved": "green"}
_NOTICE = "practice_notice"  # session_state: a damaged progress file's notice, kept for the session


def progress() -> Progress:
    """The learner's progress, read afresh (another tab may have changed it)."""
    p = Progress()
    if p.notice is not None:
        st.session_state[_NOTICE] = p.notice
    return p


def progress_line(chapter: int) -> str:
    """ "3 of 6 exercises solved" for a chapter, for Home's map and the chapter's own section."""
    ids = [e.id for e in for_chapter(chapter)]
    solved = progress().counts(ids)["solved"]
    return t("Practice: {solved} of {total} solved", solved=solved, total=len(ids))


def _key(exercise: Exercise, what: str) -> str:
    return f"practice_{what}_{exercise.id}"


def _check(exercise: Exercise) -> None:
    """The Check button's callback: run the checker on the widget's answer, keep the feedback, record."""
    answer = st.session_state.get(_key(exercise, "answer"))
    try:
        feedback: Feedback | AnswerError = exercise.check.check(answer or "")
    except AnswerError as e:
        feedback = e
    st.session_state[_key(exercise, "feedback")] = feedback
    solved = isinstance(feedback, Feedback) and feedback.ok
    _record(exercise, "solved" if solved else "tried")


def _record(exercise: Exercise, state: str) -> None:
    """Record `state` (one read of the file, one write) and whether it changed, so the page reruns."""
    p = progress()
    before = p.state(exercise.id)
    p.record(exercise.id, state)
    st.session_state[_key(exercise, "changed")] = p.state(exercise.id) != before


def _hint(exercise: Exercise) -> None:
    st.session_state[_key(exercise, "hints")] = st.session_state.get(_key(exercise, "hints"), 0) + 1


def _solution(exercise: Exercise) -> None:
    st.session_state[_key(exercise, "solution")] = True
    _record(exercise, "solution seen")


def _answer_widget(exercise: Exercise) -> None:
    key = _key(exercise, "answer")
    if exercise.options():
        labels = {o.key: f"{o.key}) {_(o.text)}" for o in exercise.options()}
        st.radio(_("Your answer"), list(labels), format_func=labels.get, index=None, key=choice_key(key))
    elif exercise.kind == "train":
        runs = {r.id: r for r in RunStore(runs_dir()).list()}
        st.selectbox(
            _("The run to check"),
            list(runs),
            format_func=lambda run_id: _run_label(runs[run_id]),
            index=None,
            key=choice_key(key),
            placeholder=_("choose a run"),
        )
    else:
        placeholder = {"expression": "torch.…", "number": "42"}[exercise.kind]
        st.text_input(_("Your answer"), key=key, placeholder=placeholder, max_chars=300)


def _run_label(run: Run) -> str:
    """A run as the picker lists it: its id, learning rate and status (what the exercises ask about)."""
    lr = run.config().get("lr")
    rate = f"lr {lr:g}" if isinstance(lr, (int, float)) else "lr ?"
    return f"{run.id} · {rate} · {_(run.status)}"


def _show_feedback(exercise: Exercise) -> None:
    feedback = st.session_state.get(_key(exercise, "feedback"))
    if feedback is None:
        return
    if isinstance(feedback, AnswerError):
        # the message quotes what the learner typed: shown as typed, never as markdown
        st.warning(md(error_text(feedback)))
        return
    (st.success if feedback.ok else st.error)(error_text(feedback.message))
    printed = [(code, out) for code, out in feedback.ran if out]
    if printed:
        with st.expander(_("What the engine ran, and what it printed"), expanded=True):
            for code, out in printed:
                st.code(code, language="python")
                st.code(out, language="text")


def _show_help(exercise: Exercise) -> None:
    shown = st.session_state.get(_key(exercise, "hints"), 0)
    for i, hint in enumerate(exercise.hints[:shown], 1):
        st.info(t("Hint {n}: {text}", n=i, text=_(hint)))
    left, right = st.columns(2)
    if shown < len(exercise.hints):
        label = t("Show a hint ({n} of {total})", n=shown + 1, total=len(exercise.hints))
        left.button(label, key=_key(exercise, "hint_button"), on_click=_hint, args=(exercise,))
    if st.session_state.get(_key(exercise, "solution")):
        st.markdown(t("**Solution:** `{answer}`", answer=exercise.solution))
        st.markdown(_(exercise.why))
    else:
        right.button(
            _("Show the solution"),
            key=_key(exercise, "solution_button"),
            on_click=_solution,
            args=(exercise,),
        )


@st.fragment
def exercise_card(exercise: Exercise, number: int) -> None:
    """One exercise: prompt, answer, Check, feedback, hints and solution, with its state as a badge."""
    if st.session_state.pop(_key(exercise, "changed"), False):
        st.rerun()
    state = progress().state(exercise.id)
    with st.container(border=True):
        st.markdown(f"**{number}. {_(exercise.title)}** :{BADGES[state]}-badge[{_(STATE_LABELS[state])}]")
        st.markdown(_(exercise.prompt))
        setup = getattr(exercise.check, "setup_code", None)
        if setup is not None and setup():
            st.code(setup(), language="python")
        _answer_widget(exercise)
        verb = _("Run it and check") if exercise.kind == "predict" else _("Check")
        st.button(verb, key=_key(exercise, "check"), type="primary", on_click=_check, args=(exercise,))
        _show_feedback(exercise)
        _show_help(exercise)


def practice_section(chapter: int) -> None:
    """The chapter's 练习 (each exercise a card), with its progress line and a damaged file's notice."""
    st.divider()
    st.header(_("Practice"))
    progress()  # reads the file first: a damaged one is set aside now, and its notice shown below
    if (notice := st.session_state.get(_NOTICE)) is not None:
        st.warning(error_text(notice))
    exercises = [e for e in for_chapter(chapter) if e.kind != "clinic"]
    st.caption(progress_line(chapter))
    st.markdown(
        _(
            "Answer, then Check: the checker says what differs. Hints get more specific one at a time; the "
            "solution explains why. Your progress is kept on this computer."
        )
    )
    for number, exercise in enumerate(exercises, 1):
        exercise_card(exercise, number)


def reset_button() -> None:
    """Forget every exercise's state (after a confirmation)."""
    with st.popover(_("Reset my practice progress")):
        st.markdown(_("Every exercise goes back to not tried. This cannot be undone."))
        if st.button(_("Reset"), key="practice_reset", type="primary"):
            progress().reset()
            for key in [k for k in st.session_state if str(k).startswith("practice_")]:
                del st.session_state[key]
            st.rerun()


# --- the clinic ---


@st.cache_resource(show_spinner=False)
def _run_case(number: int) -> tuple[Symptoms, Symptoms]:
    """A case's run and the correct one, shared by every session: the same seed gives the same run."""
    return case_run(number), correct_run()


@st.fragment
def clinic_case(exercise: Exercise) -> None:
    """One clinic case: run it, see its symptom beside the correct loop's, name the bug."""
    if st.session_state.pop(_key(exercise, "changed"), False):
        st.rerun()
    case = CASES[exercise.check.number - 1]
    state = progress().state(exercise.id)
    with st.container(border=True):
        st.markdown(f"**{_(exercise.title)}** :{BADGES[state]}-badge[{_(STATE_LABELS[state])}]")
        # a case tried before (this session or an earlier one) shows its run at once: it is cached
        if state == "not tried" and not st.session_state.get(_key(exercise, "ran")):
            st.button(
                _("Run this loop"),
                key=_key(exercise, "run"),
                on_click=st.session_state.__setitem__,
                args=(_key(exercise, "ran"), True),
            )
            return
        with st.spinner(_("Training this loop and the correct one on the demo data…")):
            broken, correct = _run_case(case.number)
        with st.expander(_("The code that ran"), expanded=False):
            st.code(broken.code, language="python")
        if broken.error:
            st.markdown(_("It stopped at the first step with torch's error:"))
            st.code(broken.error, language="text")
        else:
            left, right = st.columns(2)
            with left:
                fig = clinic_figure(correct.losses, broken.losses, _("Loss per step"), _("loss"))
                plot(fig, key=_key(exercise, "loss_chart"))
            with right:
                fig = clinic_figure(
                    correct.grad_norms, broken.grad_norms, _("Gradient norm per step"), _("norm"), log=True
                )
                plot(fig, key=_key(exercise, "grad_chart"))
        _answer_widget(exercise)
        st.button(_("Check"), key=_key(exercise, "check"), type="primary", on_click=_check, args=(exercise,))
        _show_feedback(exercise)
        feedback = st.session_state.get(_key(exercise, "feedback"))
        if isinstance(feedback, Feedback) and feedback.ok:
            st.code(feedback.diff, language="diff")
        _show_help(exercise)


def clinic() -> None:
    st.header(_("Fix-the-bug clinic"))
    st.markdown(
        t(
            "Each loop below is the tutorial's training loop with one mistake. It trains for real, on {n} "
            "images of the demo data, beside the correct loop. Read the symptom, then name the bug.",
            n=format(SLICE, ","),
        )
    )
    for exercise in for_chapter(4):
        if exercise.kind == "clinic":
            clinic_case(exercise)


# --- the challenge board ---


def challenge_board() -> None:
    """Each challenge's rule and the learner's runs that take part, best first, with each run's recipe."""
    st.header(_("Challenge board"))
    st.markdown(
        _(
            "Goals judged from your finished runs. Only runs on "
            "CIFAR-10's official test split count; runs on "
            "other data are listed as practice. Each entry names the machine it trained on: times from "
            "different machines do not compare."
        )
    )
    runs = RunStore(runs_dir()).list()
    for challenge in CHALLENGES:
        with st.container(border=True):
            st.markdown(f"**{_(challenge.title)}** · {_(challenge.rule)}")
            entries = board(runs, challenge)
            if not entries:
                st.caption(_("No finished run takes part yet."))
                continue
            frame = pd.DataFrame(
                [
                    {
                        "run": e.run,
                        "accuracy": 100 * e.accuracy,
                        "seconds": e.seconds,
                        "parameters": e.parameters,
                        "machine": e.machine,
                        "counts": "✓" if e.official else _("practice"),
                    }
                    for e in entries
                ]
            )
            config = {
                "run": _("run"),
                "accuracy": st.column_config.NumberColumn(_("test accuracy"), format="%.1f %%"),
                "seconds": st.column_config.NumberColumn(_("training s"), format="%.1f"),
                "parameters": st.column_config.NumberColumn(_("parameters"), format="localized"),
                "machine": _("machine"),
                "counts": _("counts"),
            }
            st.dataframe(frame, hide_index=True, width="stretch", column_config=config)
            with st.popover(_("Recipes of these runs")):
                for e in entries:
                    st.code(e.command or e.run, language="bash")
