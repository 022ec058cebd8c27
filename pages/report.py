"""How good is it, per class? The tutorial's last step: accuracy per class, and where the model goes wrong."""

import pandas as pd
import streamlit as st

from core.data import DataError, Dataset
from core.evaluate import CheckpointError, Report, evaluate_run
from core.paths import data_dir, runs_dir
from core.runs import Run, RunStore
from ui import through_navigation
from ui.charts import confusion_figure, per_class_figure, plot
from ui.data import cached_dataset
from ui.run_picker import pick_trained_run

through_navigation()

TUTORIAL_REFERENCE = 0.54  # the tutorial's Net and recipe on CIFAR-10

st.title("📊 Per-class report")
st.caption(
    "The tutorial ends by asking which classes the network gets right. Pick a run: its saved model is "
    "evaluated on its test split (once per checkpoint; revisits are instant)."
)

store = RunStore(runs_dir())


@st.cache_data(max_entries=8, show_spinner=False)
def report_for(run_id: str, model_mtime: float) -> Report:
    """Evaluated once per checkpoint (its mtime is part of the key)."""
    run = store.open(run_id)
    bar = st.progress(0.0, text="Evaluating on the test split…")
    report, _ = evaluate_run(
        run,
        dataset=dataset_of(run),
        progress=lambda done, total: bar.progress(
            done / total, text=f"Evaluating: {done:,} / {total:,} test images"
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
        st.error(str(e))
        return None


c = st.columns(2)
with c[0]:
    run = pick_trained_run(store, "Run", "rp_run")
others = [r.id for r in store.list() if r.model_path.exists() and r.id != run.id]
other = c[1].selectbox("Compare with (optional)", ["—", *others], key="rp_other")
rep = load(run)
if rep is None:
    st.stop()

m = st.columns(3)
m[0].metric("Test accuracy", f"{100 * rep.accuracy:.1f} %")
m[1].metric("The tutorial's Net on CIFAR-10", f"{100 * TUTORIAL_REFERENCE:.0f} %")
m[2].metric("Chance", f"{100 / len(rep.classes):.0f} %")

per_class = {run.id: rep.per_class_accuracy()}
if other != "—":
    rep2 = load(store.open(other))
    if rep2 and rep2.classes == rep.classes:
        per_class[other] = rep2.per_class_accuracy()
    elif rep2:
        st.warning(
            "These two runs were trained on different classes; they cannot be compared class by class."
        )
left, right = st.columns(2)
with left:
    plot(per_class_figure(per_class), key="rp_bars")
with right:
    normalized = st.toggle("Row-normalised (share of each true class)", key="rp_norm")
    matrix = rep.confusion_shares() if normalized else rep.confusion
    plot(confusion_figure(matrix.tolist(), rep.classes, normalized), key="rp_confusion")
st.dataframe(
    pd.DataFrame(rep.table()).style.format(
        {"accuracy": "{:.1%}", "precision": "{:.1%}", "recall": "{:.1%}", "f1": "{:.3f}"}
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Where it goes wrong")
c = st.columns(2)
true_class = c[0].selectbox("True class", rep.classes, key="rp_true")
pred_class = c[1].selectbox("Predicted as", [cls for cls, _ in rep.taken_for(true_class)], key="rp_pred")
ds = dataset_of(run)
hits = rep.mistakes(ds.test_y, true_class, pred_class)
if not hits:
    st.info(f"No {true_class} was taken for a {pred_class}.")
else:
    count = int(rep.confusion[rep.classes.index(true_class), rep.classes.index(pred_class)])
    st.caption(
        f"{true_class} taken for {pred_class}: {count} test images; the first "
        f"{len(hits)} with the model's confidence."
    )
    cols = st.columns(8)
    for n, (i, confidence) in enumerate(hits):
        cols[n % 8].image(
            ds.test_x[i].permute(1, 2, 0).numpy(), width=64, caption=f"{100 * confidence:.0f} %"
        )
