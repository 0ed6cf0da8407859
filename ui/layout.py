"""Page-wide layout rules that Streamlit has no parameter for, in one style sheet the frame adds
once per run (``page_style``)."""
from __future__ import annotations

import streamlit as st

# Table cells (st.table) break lines between words only: a narrow column otherwise broke a word
# mid-way ("importance-\nweighted", Korean "우\n세" one syllable a line) while a long column of
# sentences kept its width; now the sentences wrap and every word stays whole. The cells' own
# markdown blocks are set too: their break-anywhere style let the table squeeze a column.
TABLE_CSS = ("[data-testid=stTable] th, [data-testid=stTable] td, [data-testid=stTable] th div, "
             "[data-testid=stTable] td div, [data-testid=stTable] th p, [data-testid=stTable] td p "
             "{overflow-wrap: normal !important; word-break: keep-all !important;}")

# A segmented control wraps its options onto a second row where its column is narrow (the Train
# page's "AE | VAE | AE+VAE pair | β sweep" was clipped at 1024 px).
SEGMENTS_CSS = "[data-testid=stButtonGroup] div:has(> button) {flex-wrap: wrap;}"


def page_style() -> None:
    st.html(f"<style>{TABLE_CSS} {SEGMENTS_CSS}</style>")
