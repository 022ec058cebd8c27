"""Streamlit helpers shared by the pages: widgets and charts, no training math (that is core's)."""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

_rerouted = False


def through_navigation() -> None:
    """Run this page through app.py's st.navigation.

    Until some session has run app.py, Streamlit treats a `pages/` folder the old (v1) way: the first
    request for /train after the server starts runs pages/train.py on its own, without app.py's navigation.
    Turn that mode off (app.py's st.navigation would) and rerun once, now through app.py. Once per process:
    Streamlit's AppTest resets the mode before every run, and a rerun there would drop widget clicks.

    Why a private attribute: Streamlit documents the switch ("if you call st.navigation in your app, in any
    session, Streamlit switches to the Page-and-navigation structure") but offers no public way for a page
    to tell that it runs outside the entrypoint, and renaming `pages/` (the documented escape) would change
    the product's layout. `PagesManager.uses_pages_directory` is the flag st.navigation itself clears;
    tests/test_app.py fails, naming it, if a Streamlit upgrade removes or stops honouring it."""
    global _rerouted
    if PagesManager.uses_pages_directory and not _rerouted:
        _rerouted = True
        PagesManager.uses_pages_directory = False
        st.rerun()
