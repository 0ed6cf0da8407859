"""The app's pages, defined once (titles marked for the catalogs, translated when shown): ``streamlit_app.py`` builds its ``st.navigation`` from ``PAGES``
and every in-app link names a page by its file here. ``link`` draws a link to a page; ``go`` is
the one way a button moves to another page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from vae_core.text import N_


@dataclass(frozen=True)
class PageDef:
    file: str  # relative to the repository root, as st.Page / st.page_link / st.switch_page take it
    title: str
    icon: str


OVERVIEW = PageDef("pages/0_Overview.py", N_("Overview"), ":material/home:")
TRAIN = PageDef("pages/1_Train.py", N_("Train"), ":material/model_training:")
LATENT_SPACE = PageDef("pages/2_Latent_space.py", N_("Latent space"), ":material/scatter_plot:")
DECODER_GRID = PageDef("pages/3_Decoder_grid.py", N_("Decoder grid"), ":material/grid_on:")
GENERATE = PageDef("pages/4_Generate.py", N_("Generate & interpolate"), ":material/auto_awesome:")
REPARAMETERIZATION = PageDef("pages/5_Reparameterization.py", N_("Reparameterization & KL"),
                             ":material/functions:")
EVIDENCE = PageDef("pages/6_Evidence.py", N_("Evidence"), ":material/fact_check:")

TRAINING_REPLAY = PageDef("pages/7_Training_replay.py", N_("Training replay"), ":material/replay:")
DRAW_A_DIGIT = PageDef("pages/8_Draw_a_digit.py", N_("Draw a digit"), ":material/draw:")
LOSS_LAB = PageDef("pages/9_Loss_lab.py", N_("Loss-convention lab"), ":material/science:")
LATENT_REMOTE = PageDef("pages/10_Latent_remote.py", N_("Latent remote control"), ":material/tune:")
CLASS_GALLERY = PageDef("pages/11_Class_gallery.py", N_("Class gallery"), ":material/groups:")
PAGES = (OVERVIEW, TRAIN, LATENT_SPACE, DECODER_GRID, GENERATE, REPARAMETERIZATION, EVIDENCE,
         TRAINING_REPLAY, DRAW_A_DIGIT, LOSS_LAB, LATENT_REMOTE, CLASS_GALLERY)

# Which page shows the evidence for each claim's metric (vae_core.analysis.scorecard.CLAIMS).
CLAIM_PAGES: dict[str, PageDef] = {
    "centring": LATENT_SPACE, "scale_error": LATENT_SPACE, "prior_kl": LATENT_SPACE,
    "coverage": DECODER_GRID, "coverage_standardised": DECODER_GRID, "largest_gap": DECODER_GRID,
    "smoothness": DECODER_GRID, "prior_confident": GENERATE, "prior_confident_raw": GENERATE,
    "prior_class_entropy": GENERATE, "recon": TRAIN,
    "kl": REPARAMETERIZATION, "iwae_nll": EVIDENCE, "active_units": EVIDENCE,
}


def link(page: PageDef, label: str | None = None, icon: str | None = None) -> None:
    """A link to ``page`` that keeps the session (a URL load would start a new one)."""
    import streamlit as st

    from ui.i18n import _

    st.page_link(page.file, label=label or _(page.title), icon=icon or page.icon)


def go(page: PageDef) -> NoReturn:
    """Move to ``page`` from a button (or after a job ends), keeping the session and its language.

    ``st.switch_page(file)`` empties the URL's query, and refuses to ("Cannot clear query
    parameters – bound to widgets") while a URL-bound widget holds a value other than its default.
    Given the parameters to keep, it replaces the query instead, which is always allowed. Kept:
    the language (a plain parameter, which the page switch would otherwise drop, and with it the
    session's language). A bound widget's parameter needs no help: Streamlit keeps the widget's
    value and writes it back to the URL when the widget is drawn again (the run pickers, the
    sidebar's chart format).
    """
    import streamlit as st

    from ui.i18n import LANGUAGE_KEY

    keep = {k: st.query_params.get_all(k) for k in (LANGUAGE_KEY,) if k in st.query_params}
    st.switch_page(page.file, query_params=keep)
