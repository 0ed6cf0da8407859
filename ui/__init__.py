"""Streamlit glue shared by the dashboard's pages (vae_core holds all the model code)."""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Streamlit 1.67 starts a server whose main script sits next to a ``pages/`` folder in the legacy
# multipage mode: until some run calls ``st.navigation``, each run executes the requested page
# file on its own (its own auto-discovered menu with a "streamlit app" entry, no frame, no sidebar
# of ours). So the first visitor after a start, arriving by a shared link such as
# /Decoder_grid?..., saw that phantom menu. Every page imports ``ui``: the first import switches
# the legacy mode off and reruns, and that rerun goes through the frame (streamlit_app.py).
if PagesManager.uses_pages_directory and st.runtime.exists():
    PagesManager.uses_pages_directory = False
    st.rerun()
