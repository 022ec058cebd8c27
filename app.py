"""Blitz Lab: the PyTorch 60-minute blitz as an interactive course. Run with `make run`.

Every run settles the learner's language first (ui.i18n), then builds the chapters' navigation in it.
`streamlit run app.py` also imports this file to find `app`, the server with ui.safe.LocalOnly in front:
only this machine's browser may talk to it (docs/RELIABILITY.md)."""

import importlib
import threading

import streamlit as st
from starlette.middleware import Middleware

from ui.chapter import navigation
from ui.i18n import language_switch, setup
from ui.safe import LocalOnly

if __name__ == "__main__":  # a script run (every page view)
    st.set_page_config(page_title="Blitz Lab", page_icon="🔥", layout="wide")
    setup()
    language_switch()
    st.navigation(navigation()).run()
else:  # imported by `streamlit run` to serve the app
    PRELOAD = ("pandas", "core.data", "core.runs")  # torch and pandas: ~1.5 s of imports
    app = st.App(__file__, middleware=[Middleware(LocalOnly)])
    # torch takes ~1.2 s to import: start now, while the browser loads the page, rather than
    # in the first page view (a page importing them meanwhile waits on Python's import lock, no longer)
    threading.Thread(target=lambda: [importlib.import_module(m) for m in PRELOAD], daemon=True).start()
