"""Blitz Lab: the PyTorch 60-minute blitz as an interactive dashboard. Run with `make run`."""
import streamlit as st

from ui import keep_form_state

st.set_page_config(page_title="Blitz Lab", page_icon="🔥", layout="wide")
keep_form_state()

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
]

st.navigation(PAGES).run()
