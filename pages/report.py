"""How good is it, per class? The tutorial's last step: accuracy per class, and where the model goes wrong."""

import pandas as pd
import streamlit as st

from core.data import DataError, Dataset
from core.evaluation import CheckpointError, Report, confusion_cell, evaluate_run
from core.paths import data_dir, runs_dir
from core.reference import TUTORIAL_ACCURACY, references_for, training_difference
from core.runs import Run, RunStore
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.charts import confusion_figure, per_class_figure, plot
from ui.data import cached_dataset
from ui.downloads import run_downloads
from ui.i18n import _, choice_key, error_text, t
from ui.run_picker import pick_trained_run
from ui.safe import error, info, md

through_navigation()
chapter_heading(__file__)

st.title("📊 " + _("Per-class report"))
st.caption(
    _(
        "The tutorial ends by asking which classes the network gets right. Pick a run: its saved model is "
        "evaluated on its test split (once per checkpoint; revisits are instant)."
    )
)

store = RunStore(runs_dir())


@st.cache_data(max_entries=8, show_spinner=False)
def report_for(run_id: str, model_mtime: float) -> Report:
    """Evaluated once per checkpoint (its mtime is part of the key); the report holds no translated text."""
    run = store.open(run_id)
    bar = st.progress(0.0, text=_("Evaluating on the test split…"))
    report, _ds = evaluate_run(
        run,
        dataset=dataset_of(run),
        progress=lambda done, total: bar.progress(
            done / total,
            text=t("Evaluating: {done:,} / {total:,} test images", done=done, total=total),
        ),
    )
    bar.empty()
    return report


def dataset_of(run: Run) -> Dataset:
    cfg = run.config()
    return cached_dataset(cfg["data"], cfg.get("data_dir", str(data_dir())))


def load(run: Run) -> Report | None:
    try:
        return report_for(run.id, run.model_path.stat().st_mtime)
    except (DataError, CheckpointError) as e:
        error(error_text(e))
        return None


def percent(share: float) -> str:
    return f"{100 * share:.3g} %"


def select_cell(classes: list[str]) -> None:
    """A click on a cell of the confusion matrix picks its true → predicted pair in "Where it goes wrong"."""
    cell = confusion_cell(st.session_state["rp_confusion"].selection.points, classes)
    if cell is not None:
        st.session_state["rp_true"], st.session_state["rp_pred"] = cell


c = st.columns(2)
with c[0]:
    run = pick_trained_run(store, _("Run"), "rp_run")
others = [r.id for r in store.list() if r.model_path.exists() and r.id != run.id]
other = c[1].selectbox(_("Compare with (optional)"), ["—", *others], key="rp_other")
rep = load(run)
if rep is None:
    st.stop()

refs = references_for(run, store.list())
shown = [(_("Test accuracy"), f"{100 * rep.accuracy:.1f} %")]
if refs.tutorial is not None:
    shown.append((_("The tutorial's Net on CIFAR-10"), percent(refs.tutorial)))
# from the evaluated test set: its classes are known even where the run's summary lost them
chance = 1 / len(rep.classes)
shown.append((t("Chance (1 / {n} classes)", n=len(rep.classes)), percent(chance)))
if refs.best_earlier is not None:
    shown.append((_("Best earlier run on the same data"), f"{100 * refs.best_earlier.accuracy:.1f} %"))
for column, (label, value) in zip(st.columns(len(shown)), shown):
    column.metric(label, value)
notes = []
if (difference := training_difference(run, rep.accuracy)) is not None:
    notes.append(error_text(difference))  # the live view's number beside this one, and why they differ
if refs.tutorial is None:
    notes.append(
        t(
            "The tutorial's {tutorial} is for CIFAR-10; this run learned other data, so read its accuracy "
            "against chance and your earlier runs on the same data.",
            tutorial=percent(TUTORIAL_ACCURACY),
        )
    )
if refs.best_earlier is not None:
    notes.append(t("Best earlier run: {run}.", run=md(refs.best_earlier.run_id)))
if notes:
    st.caption(" ".join(notes))
run_downloads(run, "rp_download")

per_class = {run.id: rep.per_class_accuracy()}
if other != "—":
    rep2 = load(store.open(other))
    if rep2 and rep2.classes == rep.classes:
        per_class[other] = rep2.per_class_accuracy()
    elif rep2:
        st.warning(
            _("These two runs were trained on different classes; they cannot be compared class by class.")
        )
left, right = st.columns(2)
with left:
    plot(per_class_figure(per_class, chance=chance), key="rp_bars")
    st.caption(
        t(
            "The dotted line is chance: the accuracy of guessing one of the {n} classes at random. A bar "
            "near it means the model has learned little about that class.",
            n=len(rep.classes),
        )
    )
with right:
    normalized = st.toggle(_("Row-normalised (share of each true class)"), key="rp_norm")
    matrix = rep.confusion_shares() if normalized else rep.confusion
    plot(
        confusion_figure(matrix.tolist(), rep.classes, normalized),
        key="rp_confusion",
        on_select=lambda: select_cell(rep.classes),
        selection_mode="points",
    )
    st.caption(
        _(
            "Rows: the true class; columns: what the model predicted. Click a cell to see its test images "
            "below."
        )
    )
st.caption(
    _(
        "**Precision**: of the images the model called this class, the share that really are. **Recall** "
        "(this class's accuracy): of this class's images, the share the model recognised. **F1 score**: "
        "the harmonic mean of the two, high only when both are."
    )
)
st.dataframe(
    pd.DataFrame(rep.table()).style.format(
        {"accuracy": "{:.1%}", "precision": "{:.1%}", "recall": "{:.1%}", "f1": "{:.3f}"}
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "class": _("class"),
        "accuracy": _("accuracy"),
        "precision": _("precision"),
        "recall": _("recall"),
        "f1": _("F1 score"),
        "support": _("test images"),
    },
)

st.subheader(_("Where it goes wrong"))
c = st.columns(2)
true_class = c[0].selectbox(_("True class"), rep.classes, key="rp_true")
# the other classes, most often predicted for it first, then the class itself (its correct predictions)
predicted = [cls for cls, _n in rep.taken_for(true_class)] + [true_class]
pred_class = c[1].selectbox(
    _("Predicted as"),
    predicted,
    key=choice_key("rp_pred"),
    format_func=lambda cls: t("{cls} (correct)", cls=cls) if cls == true_class else cls,
)
ds = dataset_of(run)
hits = rep.mistakes(ds.test_y, true_class, pred_class)
count = int(rep.confusion[rep.classes.index(true_class), rep.classes.index(pred_class)])
if not hits and pred_class == true_class:
    info(t("No {true} test image was recognised.", true=true_class))
elif not hits:
    info(t("No {true} was mistaken for a {predicted}.", true=true_class, predicted=pred_class))
else:
    if pred_class == true_class:
        text = _("{true} recognised: {count} test images; the first {shown} with the model's confidence.")
    else:
        text = _(
            "{true} mistaken for {predicted}: {count} test images; the first {shown} with the model's "
            "confidence."
        )
    st.caption(text.format(true=md(true_class), predicted=md(pred_class), count=count, shown=len(hits)))
    cols = st.columns(8)
    for n, (i, confidence) in enumerate(hits):
        cols[n % 8].image(
            ds.test_x[i].permute(1, 2, 0).numpy(), width=64, caption=f"{100 * confidence:.1f} %"
        )

next_link(__file__)
