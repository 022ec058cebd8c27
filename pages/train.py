"""Train a classifier: the tutorial's sections 4 and 5, live. Start, watch, pause, stop and compare runs."""

import streamlit as st

from core import jobs
from core.paths import runs_dir
from core.runs import RunError, RunStore
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.i18n import _, error_text, t
from ui.live import live_view
from ui.recipe_view import recipe_panel
from ui.runs_panel import runs_panel
from ui.safe import md
from ui.train_form import new_run_form

through_navigation()
chapter_heading(__file__)

st.title(_("🏋️ Train a classifier"))
st.caption(
    _(
        "The tutorial's *Training a classifier* and *Training on GPU*: pick data, a network and a recipe, "
        "then watch the loss fall and the test accuracy rise. Training runs in its own process: switch "
        "pages, refresh or open a second tab — it keeps going."
    )
)

store = RunStore(runs_dir())
jobs.warm()  # so that even the first run starts training at once
if (problem := store.problem()) is not None:
    st.error(md(error_text(problem)))
active = jobs.active_runs(store)
wanted = st.query_params.get("run")
try:
    shown = store.open(wanted) if wanted else (active[0] if active else (store.list() or [None])[0])
except RunError:
    # the id comes from the URL: shown as text, never as markdown
    st.warning(md(t("There is no run '{run}'.", run=wanted)))
    shown = None

if shown is not None:
    live_view(shown.id, store)

with st.expander(_("▶ New run"), expanded=not active):
    cfg, problems = new_run_form(store)
    for problem in problems:
        st.error(md(problem))
    if st.toggle(_("Show this recipe as PyTorch code"), key="show_recipe"):
        recipe_panel(cfg)
    if st.button(_("Start training"), type="primary", disabled=bool(problems), key="start"):
        try:
            run = jobs.start(cfg, store)
            st.query_params["run"] = run.id
            st.rerun()
        except jobs.DeviceBusy as e:
            st.error(md(error_text(e)))
            st.page_link(
                "pages/train.py",
                label=t("Open run {run}", run=md(e.run.id)),
                query_params={"run": e.run.id},
            )
        except (ValueError, OSError) as e:  # a check that failed since the form drew, or a runs folder gone
            st.error(md(error_text(e)))

st.subheader(_("Runs"))
runs_panel(store)
next_link(__file__)
