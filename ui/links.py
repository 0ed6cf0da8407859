"""Shareable links: a page's widget values live in the URL query, so a link opens that exact view.

Widgets opt in with Streamlit's own ``bind="query-params"`` (their key is the parameter name;
values equal to the default are left out of the URL; a widget with a ``format_func`` keeps the
option's label there, e.g. a run picker's "demo-vae (digits, latent 2, β=1, finished)"). Streamlit silently drops a value that is
not among a widget's options; ``link_fallback`` says so to the user first, for the values where
that matters (a run that is not on this server, say).
"""
from __future__ import annotations

from typing import Iterable

import streamlit as st

BIND = "query-params"


def link_fallback(key: str, valid: Iterable[str], what: str, fallback: str | None) -> None:
    """Warn when the URL asks ``key`` for a value outside ``valid`` (the widget will show
    ``fallback`` instead); call it before the widget is drawn."""
    requested = st.query_params.get(key)
    if requested is None or requested in set(valid):
        return
    instead = f"; showing {fallback} instead" if fallback else ""
    st.warning(f"The link asks for {what} {requested!r}, which is not available here{instead}.",
               icon=":material/link_off:")
