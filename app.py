"""Blitz Lab: the PyTorch 60-minute blitz as an interactive course. Run with `make run`.

Every run settles the learner's language first (ui.i18n), then builds the chapters' navigation in it."""

import streamlit as st

from ui.chapter import navigation
from ui.i18n import language_switch, setup

st.set_page_config(page_title="Blitz Lab", page_icon="🔥", layout="wide")
setup()
language_switch()
st.navigation(navigation()).run()
