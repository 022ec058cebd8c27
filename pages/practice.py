"""Chapter 4's 练习: the chapter's exercises, then the fix-the-bug clinic (broken training loops, each a real
run beside the correct one). The chapter's last page, after Train, Report and Classify."""

import streamlit as st

from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.i18n import _
from ui.practice import challenge_board, clinic, practice_section

through_navigation()
chapter_heading(__file__)

st.title(_("Practice: training a classifier"))
st.markdown(
    _(
        "Questions on the tutorial's training script, one exercise that needs a run of your own, and a "
        "clinic of broken training loops to diagnose."
    )
)
practice_section(4)
challenge_board()
clinic()
next_link(__file__)
