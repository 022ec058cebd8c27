"""Home: the map of the course (one card per chapter, in the tutorial's order) and what this machine has
ready: torch, devices, datasets, the latest runs."""

from importlib.metadata import version

import pandas as pd
import streamlit as st
import torch

from core.data import available_datasets
from core.devices import list_devices
from core.paths import data_dir, runs_dir
from core.runs import RunStore
from ui import through_navigation
from ui.chapter import CHAPTERS, chapter_heading, next_link
from ui.i18n import _, error_text, t
from ui.practice import progress_line, reset_button
from ui.runs_panel import run_columns, runs_frame
from ui.safe import md

through_navigation()
chapter_heading(__file__)

# Column labels for core's tables (the columns keep their names; only the header shown is translated); the
# runs table's, "problems" included, are the Train page's.
COLUMNS = {
    "device": _("device"),
    "details": _("details"),
    "dataset": _("dataset"),
    "status": _("status"),
    "detail": _("details"),
    **run_columns(),
}


def table(rows: list[dict] | pd.DataFrame) -> None:
    # a run in progress has no best accuracy or training time yet: a dash, not "None"
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config=COLUMNS, placeholder="–")


st.title("🔥 Blitz Lab")
st.markdown(
    _(
        "PyTorch's 60-minute blitz as a course you run: tensors, autograd, neural networks, training an "
        "image classifier, and training on a GPU. Follow the chapters in order, each page ends with a link "
        "to the next."
    )
)

st.subheader(_("The chapters"))
# a row of columns per three chapters: on a narrow screen columns stack one under the other, so cards
# spread over three columns read 1, 4, 2, 5, 3; rows stack in the tutorial's order
for first in range(0, len(CHAPTERS), 3):
    for column, chapter in zip(st.columns(3), CHAPTERS[first : first + 3]):
        with column.container(border=True):
            st.markdown(f"#### {chapter.label}")
            st.markdown(_(chapter.summary))
            for page in chapter.pages:
                st.page_link(page.path, label=_(page.title), icon=page.icon)
            st.caption(progress_line(chapter.number))
reset_button()

st.markdown(_("The same engine runs from a terminal:"))
st.code(
    "python -m core.train --data synthetic --preset tutorial --epochs 1\n"
    "python -m core.train --data cifar10 --preset tutorial      # {recipe}\n"
    "python -m core.evaluate <run-id>                            # {report}".format(
        recipe=_("the tutorial's exact recipe"), report=_("per-class report")
    ),
    language="bash",
)

left, right = st.columns(2)
with left:
    st.subheader(_("This machine"))
    st.markdown(f"torch **{torch.__version__}** · torchvision **{version('torchvision')}**")
    table([{"device": d.name, "details": error_text(d.label)} for d in list_devices()])
    st.caption(
        t(
            "The tutorial picks its device with: {code}",
            code="`device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')`",
        )
    )
with right:
    st.subheader(_("Datasets"))
    table(
        [
            {**row, "status": _(row["status"]), "detail": error_text(row["detail"])}
            for row in available_datasets(data_dir())
        ]
    )

st.subheader(_("Recent runs"))
runs = RunStore(runs_dir()).list()[:10]
if runs:
    table(runs_frame(runs))
else:
    st.info(
        t(
            "No runs yet in {folder}. Start one on the Train page, or from a terminal: {command}",
            folder=md(runs_dir()),
            command="`python -m core.train --data synthetic --epochs 1`",
        )
    )
next_link(__file__)
