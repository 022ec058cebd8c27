"""How good is it, per class? The tutorial's last step: accuracy per class, and where the model goes wrong."""

import pandas as pd
import streamlit as st

from core.data import DataError
from core.evaluate import CheckpointError, evaluate_run
from core.paths import runs_dir
from core.runs import RunStore
from ui import through_navigation
from ui.charts import PALETTE
from ui.data import cached_dataset
from ui.run_picker import pick_trained_run

through_navigation()

SEED_REFERENCE = 0.54  # the tutorial's Net and recipe on CIFAR-10

st.title("📊 Per-class report")
st.caption(
    "The tutorial ends by asking which classes the network gets right. Pick a run: its saved model is "
    "evaluated on its test split (once per checkpoint; revisits are instant)."
)

store = RunStore(runs_dir())


@st.cache_data(max_entries=8, show_spinner=False)
def report_for(run_id: str, model_mtime: float) -> dict:
    """Evaluated once per checkpoint (its mtime is part of the key)."""
    run = store.open(run_id)
    cfg = run.config()
    ds = cached_dataset(cfg["data"], cfg.get("data_dir", "data"))
    bar = st.progress(0.0, text="Evaluating on the test split…")
    report, _ = evaluate_run(
        run,
        dataset=ds,
        progress=lambda done, total: bar.progress(
            done / total, text=f"Evaluating: {done:,} / {total:,} test images"
        ),
    )
    bar.empty()
    return {
        "classes": report.classes,
        "accuracy": report.accuracy,
        "table": report.table(),
        "confusion": report.confusion.tolist(),
        "predictions": report.predictions,
        "confidence": report.confidence,
    }


def load(run) -> dict | None:
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

k = len(rep["classes"])
m = st.columns(3)
m[0].metric("Test accuracy", f"{100 * rep['accuracy']:.1f} %")
m[1].metric("The tutorial's Net on CIFAR-10", f"{100 * SEED_REFERENCE:.0f} %")
m[2].metric("Chance", f"{100 / k:.0f} %")

table = pd.DataFrame(rep["table"])
bars = [
    {
        "type": "bar",
        "x": table["class"].tolist(),
        "y": (100 * table["accuracy"]).tolist(),
        "name": run.id,
        "marker": {"color": PALETTE[0]},
    }
]
order = table.sort_values("accuracy", ascending=False)["class"].tolist()
if other != "—":
    rep2 = load(store.open(other))
    if rep2 and rep2["classes"] == rep["classes"]:
        bars.append(
            {
                "type": "bar",
                "x": rep2["classes"],
                "y": [100 * r["accuracy"] for r in rep2["table"]],
                "name": other,
                "marker": {"color": PALETTE[1]},
            }
        )
    elif rep2:
        st.warning(
            "These two runs were trained on different classes; they cannot be compared class by class."
        )
left, right = st.columns(2)
left.plotly_chart(
    {
        "data": bars,
        "layout": {
            "title": {"text": "Accuracy per class (%)"},
            "barmode": "group",
            "xaxis": {"categoryorder": "array", "categoryarray": order},
            "yaxis": {"range": [0, 100]},
            "height": 420,
            "margin": {"t": 40},
        },
    },
    key="rp_bars",
    config={"displaylogo": False},
)
with right:
    normalized = st.toggle("Row-normalised (share of each true class)", key="rp_norm")
    z = pd.DataFrame(rep["confusion"], index=rep["classes"], columns=rep["classes"])
    if normalized:
        z = z.div(z.sum(axis=1).clip(lower=1), axis=0)
    st.plotly_chart(
        {
            "data": [
                {
                    "type": "heatmap",
                    "z": z.values.tolist(),
                    "x": rep["classes"],
                    "y": rep["classes"],
                    "colorscale": "Blues",
                    "texttemplate": "%{z:.2f}" if normalized else "%{z}",
                }
            ],
            "layout": {
                "title": {"text": "Confusion matrix"},
                "height": 420,
                "margin": {"t": 40},
                "xaxis": {"title": {"text": "predicted"}},
                "yaxis": {"title": {"text": "true"}, "autorange": "reversed"},
            },
        },
        key="rp_confusion",
        config={"displaylogo": False},
    )
st.dataframe(
    table.style.format({"accuracy": "{:.1%}", "precision": "{:.1%}", "recall": "{:.1%}", "f1": "{:.3f}"}),
    hide_index=True,
    width="stretch",
)

st.subheader("Where it goes wrong")
c = st.columns(2)
true_class = c[0].selectbox("True class", rep["classes"], key="rp_true")
wrong = [
    (j, rep["confusion"][rep["classes"].index(true_class)][j])
    for j in range(k)
    if j != rep["classes"].index(true_class)
]
pred_class = c[1].selectbox(
    "Predicted as", [rep["classes"][j] for j, _ in sorted(wrong, key=lambda w: -w[1])], key="rp_pred"
)
cfg = run.config()
ds = cached_dataset(cfg["data"], cfg.get("data_dir", "data"))
ti, pi = rep["classes"].index(true_class), rep["classes"].index(pred_class)
hits = ((ds.test_y == ti) & (rep["predictions"] == pi)).nonzero().flatten()[:24].tolist()
if not hits:
    st.info(f"No {true_class} was taken for a {pred_class}.")
else:
    st.caption(
        f"{true_class} taken for {pred_class}: {int(rep['confusion'][ti][pi])} test images; the first "
        f"{len(hits)} with the model's confidence."
    )
    cols = st.columns(8)
    for n, i in enumerate(hits):
        cols[n % 8].image(
            ds.test_x[i].permute(1, 2, 0).numpy(),
            width=64,
            caption=f"{100 * float(rep['confidence'][i]):.0f} %",
        )
