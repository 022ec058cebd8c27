"""Blitz Lab: the PyTorch 60-minute blitz as an interactive dashboard. Run with `make run`."""

import streamlit as st

st.set_page_config(page_title="Blitz Lab", page_icon="🔥", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/tensors.py", title="Tensors", icon="🧊"),
    st.Page("pages/autograd.py", title="Autograd", icon="🔁"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/report.py", title="Report", icon="📊"),
    st.Page("pages/classify.py", title="Classify", icon="🎨"),
]

st.navigation(PAGES).run()
