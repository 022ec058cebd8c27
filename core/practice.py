"""`python -m core.practice`: the course's exercises from a terminal, checked by the same engine as the app.

    python -m core.practice list                       # ID  CHAPTER  KIND  title, one line each
    python -m core.practice show net-fc1-in --lang zh   # the prompt, the options, the hints
    python -m core.practice check net-fc1-in 400        # exit 0 when right, 1 with what differs
    python -m core.practice check net-fc1-in --solution # the exercise's own solution through its checker
    python -m core.practice check train-diverge <run-id>

Exit status 2 (one line, no traceback) for an unknown id or an answer that cannot be read. Answers are
parsed or go through the safe evaluator, never `exec`. `--lang zh` gives every text in 中文.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from .catalogs import Translations, translations
from .exercise_bank import BY_ID, EXERCISES
from .exercises import AnswerError, Exercise, Feedback
from .messages import N_, MessageError, Phrase

LANGUAGES = ("en", "zh")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.practice", description="The course's exercises, checked."
    )
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language of every text (default: en)")
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per exercise: ID  CHAPTER  KIND  title")
    show = commands.add_parser("show", help="an exercise's prompt, options and hints")
    show.add_argument("id")
    check = commands.add_parser("check", help="check an answer (exit 0 right, 1 wrong, 2 unreadable)")
    check.add_argument("id")
    check.add_argument("answer", nargs="?", help="a value, an expression, an option's letter, or a run id")
    check.add_argument("--solution", action="store_true", help="check the exercise's own solution instead")
    for sub in (show, check):
        sub.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help="as above")
    return p


def _show(exercise: Exercise, tr: Translations) -> str:
    lines = [f"{exercise.id} · {tr.gettext(exercise.title)}", "", tr.gettext(exercise.prompt)]
    lines += [f"  {o.key}) {tr.gettext(o.text)}" for o in exercise.options()]
    setup = getattr(exercise.check, "setup_code", None)
    if setup and setup():
        lines += ["", setup()]
    hint = tr.gettext(N_("Hint {n}: {text}"))
    lines += [""] + [hint.format(n=i, text=tr.gettext(h)) for i, h in enumerate(exercise.hints, 1)]
    return "\n".join(lines)


def _solve(exercise: Exercise) -> Feedback:
    """Check the exercise's own solution; a training exercise trains its recipe in a scratch runs folder."""
    if exercise.kind != "train":
        return exercise.check.check(exercise.solution)
    from .config import make_config
    from .runs import RunStore
    from .trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BLITZLAB_RUNS_DIR"] = str(Path(tmp) / "runs")
        cfg = make_config(**dict(exercise.check.recipe))
        run = RunStore(Path(tmp) / "runs").create(asdict(cfg))
        train(cfg, run)
        return exercise.check.check(run.id)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tr = translations(args.lang)
    if args.command == "list":
        for e in EXERCISES:
            print(f"{e.id:22} {e.chapter}  {e.kind:10} {tr.gettext(e.title)}")
        return 0
    exercise = BY_ID.get(args.id)
    if exercise is None:
        print(tr.message(Phrase(N_("There is no exercise '{id}': `list` shows them all."), id=args.id[:40])))
        return 2
    if args.command == "show":
        print(_show(exercise, tr))
        return 0
    if not args.solution and args.answer is None:
        print(tr.gettext(N_("Give an answer, or --solution.")))
        return 2
    try:
        feedback = _solve(exercise) if args.solution else exercise.check.check(args.answer)
    except (AnswerError, MessageError) as e:
        print(tr.message(e))
        return 2
    verdict = tr.gettext(N_("Correct. {message}") if feedback.ok else N_("Not yet. {message}"))
    print(verdict.format(message=tr.message(feedback.message)))
    # what the engine ran to check a prediction: each cell that printed something, then its output
    for code, printed in feedback.ran:
        if printed:
            print(f"\n{code}\n---\n{printed}", end="")
    if feedback.diff:
        print(f"\n{feedback.diff}")
    return 0 if feedback.ok else 1


if __name__ == "__main__":
    sys.exit(main())
