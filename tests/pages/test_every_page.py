"""Every page (AppTest through the frame) in every language, walked as a person reads it: with the
shipped runs, with no runs at all, with a mismatched pair (an AE of latent 1 beside a VAE of
latent 3); the language switch; and every branch of the pages' shared caption builders.

In the ``qps`` pseudo-locale (each translated string shown as ⟦…⟧) no visible word may be
outside the markers (``tests/i18n_walk.py``); in Korean the page must show Korean text."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from helpers import REPO, chart_specs, page_app, page_text
from helpers import no_exception as ok
from i18n_walk import LANGS, in_language, opened, visible_text, words_outside_catalog
from ui import captions, navigation
from ui.i18n import translate

PAGE_FILES = [p.file for p in navigation.PAGES]
LATENT, GRID, GENERATE, REPARAM = (navigation.LATENT_SPACE.file, navigation.DECODER_GRID.file,
                                   navigation.GENERATE.file, navigation.REPARAMETERIZATION.file)
MODEL_PAGES = (LATENT, GRID, GENERATE, REPARAM)  # the pages that draw the current pair


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_with_the_shipped_runs(page, lang):
    """The shipped checkpoints folder (VAE_LAB_CHECKPOINTS unset), as a fresh server shows it."""
    in_language(opened(page, lang, 90), lang, REPO / "checkpoints")


@pytest.mark.parametrize("lang", LANGS)
def test_model_pages_without_runs(lang, empty_checkpoints, fresh_streamlit_cache):
    for page in MODEL_PAGES + (navigation.LATENT_REMOTE.file, navigation.CLASS_GALLERY.file):
        at = in_language(opened(page, lang, 90), lang, empty_checkpoints)
        if page == navigation.CLASS_GALLERY.file:
            if lang != "ko":
                assert "No runs in the last 2 hours" in page_text(at).replace("⟦", "").replace("⟧", "")
            continue
        if lang != "ko":
            assert "No trained runs yet" in page_text(at)
        # Only the reparameterization page has model-free figures (its histogram and gradients).
        assert len(at.get("plotly_chart")) == (2 if page == REPARAM else 0), page
        assert not at.get("image") and not at.get("bidi_component")


@pytest.mark.slow  # trains two odd-sized runs
@pytest.mark.parametrize("lang", LANGS)
def test_pages_with_1d_and_3d_latents(lang, odd_checkpoints, fresh_streamlit_cache):
    for page in MODEL_PAGES:
        at = in_language(opened(page, lang, 90), lang, odd_checkpoints)
        assert at.warning  # the latent sizes differ
        if lang != "ko":
            assert any("Latent sizes differ" in w.value for w in at.warning)
            if page != GENERATE:
                assert any("1-d latent space" in i.value for i in at.info)
    at = opened(LATENT, lang, 90)
    assert at.radio(key="latent_plane_mode").value == "PCA projection"  # the default above 2 dims
    in_language(at.toggle(key="latent_ellipses").set_value(True).run(), lang, odd_checkpoints)
    vae_scatter = chart_specs(at)[2]
    pc1 = translate("PC{n} ({share:.0%} of the variance)", lang, n=1, share=0.5)  # "PC1 (50% of …)"
    assert vae_scatter["layout"]["xaxis"]["title"]["text"].startswith(pc1[:pc1.index("50")])
    assert [t.get("name") for t in vae_scatter["data"]][-1] == "q(z|x) 2σ"  # ellipses projected onto the PCA plane
    at.session_state["latent_plane_mode"] = "Two latent dims"  # (format_func: set_value is English only)
    ok(at.run())
    in_language(at.selectbox(key="latent_dim_x").set_value(2).run(), lang, odd_checkpoints)
    assert chart_specs(at)[2]["layout"]["xaxis"]["title"]["text"] == "z3"

    at = opened(GRID, lang, 90, grid_hold=translate("the code of a test image", lang))  # a link
    assert at.radio(key="grid_hold").value == "the code of a test image"
    in_language(at.number_input(key="grid_base_index").set_value(3).run(), lang, odd_checkpoints)
    assert len(chart_specs(at)) == 4


def test_the_switch_sets_the_language_and_the_url():
    at = page_app()
    at.query_params["lang"] = "ko"
    ok(at.run())
    switch = at.sidebar.button_group(key="lang")
    assert switch.options == ["English", "한국어"] and switch.value == "ko"
    assert "학습" in " ".join(visible_text(at))
    switch.set_value("en").run()
    ok(at)
    # (AppTest shows neither the frame's sidebar nor the URL after a rerun: the browser test
    # test_browser_i18n.py checks those.)
    assert "학습" not in " ".join(visible_text(at)) and visible_text(at)


# --- the pages' captions, every branch -----------------------------------------------------------

def caption_cases() -> list:
    """Every branch of every caption builder, from hand-made numbers (``gettext`` given later)."""
    ok_vae = {"code_span": 2.5, "centring": 0.05, "scale_error": 0.1, "collapsed": False,
              "active_units": 1, "latent_dim": 2, "prior_classes_covered": 9,
              "prior_confident_raw": 0.6, "prior_in_gaps": 0.06, "prior_class_counts": [0] * 10}
    off_vae = {**ok_vae, "centring": 0.8, "scale_error": 0.4}
    dead_vae = {**ok_vae, "collapsed": True, "active_units": 0, "kl": 4e-4}
    far_ae = {"code_span": 19.4, "centring": 6.3, "scale_error": 8.0, "prior_classes_covered": 3,
              "prior_confident_raw": 0.8, "fitted_classes_covered": 10,
              "fitted_confident_raw": 0.7, "fitted_in_gaps": 0.2}
    near_ae = {**far_ae, "centring": 0.2, "scale_error": 0.1, "prior_classes_covered": 10,
               "fitted_in_gaps": None}
    junk_ae = {**far_ae, "prior_classes_covered": 2, "prior_confident_raw": 0.2}
    return [
        lambda t: captions.collapse_warning(dead_vae, t),
        lambda t: captions.collapse_warning({"collapsed": True}, t),
        lambda t: captions.collapse_warning({"collapsed": True, "kl": 0.01}, t),
        lambda t: captions.collapse_warning({"collapsed": True, "active_units": 0, "latent_dim": 2}, t),
        *(lambda t, a=a, v=v: captions.latent_space_caption(a, v, t)
          for a in (far_ae, near_ae) for v in (ok_vae, dead_vae)),
        *(lambda t, shared=shared, r=r: captions.scale_note(19.0, 19.0 / r, shared, gettext=t)
          for shared in (True, False) for r in (0.5, 7.0)),
        lambda t: captions.scale_note(19.0, 0.0, False, vae_collapsed=True, gettext=t),
        *(lambda t, w=w, c=c: captions.decoder_grid_caption(19.4, 2.6, w, c, gettext=t)
          for w in (None, 3.0, 20.0) for c in (False, True)),
        *(lambda t, a=a, v=v: captions.generation_caption(a, v, t)
          for a in (far_ae, near_ae, junk_ae) for v in (ok_vae, dead_vae)),
        *(lambda t, v=v: captions.marginals_caption(v, t) for v in (None, ok_vae, off_vae, dead_vae)),
        *(lambda t, v=v: captions.verdict_label(v, t) for v in ("tie", "collapsed")),
    ]


def test_every_caption_sentence_comes_from_the_catalog():
    for case in caption_cases():
        english, pseudo = case(lambda m: m), case(lambda m: translate(m, "qps"))
        korean = case(lambda m: translate(m, "ko"))
        assert english and words_outside_catalog(pseudo) == [], pseudo
        assert korean != english and sum("가" <= ch <= "힣" for ch in korean) > 1, korean
        numbers = Counter(re.findall(r"\d+(?:\.\d+)?", english))
        assert not numbers - Counter(re.findall(r"\d+(?:\.\d+)?", korean)), (english, korean)


def test_korean_keeps_the_claim_that_does_not_hold():
    ko = lambda m: translate(m, "ko")  # noqa: E731
    vae = {"prior_classes_covered": 9, "prior_confident_raw": 0.6, "prior_class_counts": [0] * 10}
    text = captions.generation_caption({"prior_classes_covered": 10, "prior_confident_raw": 0.7},
                                       vae, ko)
    assert "성립하지 않아요" in text and "우연히" in text  # the claim fails, and why
