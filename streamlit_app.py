"""VAE Lab, the frame: page navigation (defined once, in ``ui.navigation``) and the shared sidebar.

Run with ``streamlit run streamlit_app.py``. Each page is a file in ``pages/``; the Overview is
``pages/0_Overview.py``. No model math here.
"""
from __future__ import annotations

import streamlit as st

from ui.export import export_format_picker
from ui.i18n import _, language_switch
from ui.layout import page_style
from ui.links import drop_unusable_numbers
from ui.navigation import PAGES
from ui.resources import pin_torch_threads, warm_torch
from ui.training import pool_status

st.set_page_config(page_title="VAE Lab", layout="wide")
pin_torch_threads()
page_style()
with st.sidebar:
    language_switch()  # first: every _() below reads it
page = st.navigation([st.Page(p.file, title=_(p.title), icon=p.icon, default=i == 0)
                      for i, p in enumerate(PAGES)])
with st.sidebar:
    export_format_picker()
    pool_status()
drop_unusable_numbers()  # a crafted ?train_epochs=inf would crash Streamlit's own widget
page.run()
warm_torch()  # a page drawn without torch is sent first; then torch loads for the next one
