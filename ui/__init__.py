"""Streamlit glue shared by the dashboard's pages (vae_core holds all the model code)."""
import sys


def _leave_legacy_pages_mode() -> None:
    """Streamlit 1.67 starts a server whose main script sits next to a ``pages/`` folder in the
    legacy multipage mode: until some run calls ``st.navigation``, each run executes the requested
    page file on its own (its own auto-discovered menu with a "streamlit app" entry, no frame, none
    of our sidebar). So the first visitor after a start, arriving by a shared link such as
    /Decoder_grid?…, saw that phantom menu. Every page imports ``ui``: the first import switches
    the legacy mode off and reruns, and that rerun goes through the frame (streamlit_app.py)."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and st.runtime.exists():
        PagesManager.uses_pages_directory = False
        st.rerun()


if "streamlit" in sys.modules:  # inside a Streamlit server; ui.captions alone stays Streamlit-free
    _leave_legacy_pages_mode()
