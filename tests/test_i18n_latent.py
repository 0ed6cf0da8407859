"""The latent-space, decoder-grid and generate pages in every state they can reach, walked in the
``qps`` pseudo-locale (no visible word outside the catalogs) and in Korean (no exception, Korean
text on screen): each radio option and toggle, the demo pair, a collapsed VAE (whose captions say
the claim does not hold), and odd latent sizes. Bound widgets keep their value through a Korean
link."""
from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest

from i18n_walk import assert_translated, hangul, opened, visible_text, words_outside_catalog
from ui import captions
from ui import navigation
from ui.i18n import translate
from vae_core.analysis.generation import SOURCE_NAMES, SOURCES

LATENT = navigation.LATENT_SPACE.file
GRID = navigation.DECODER_GRID.file
GENERATE = navigation.GENERATE.file
# The option values of the pages' radios (language-neutral: the English labels).
FIT, SQUARE, QUANTILES = "Fit to each model's codes", "Square [-r, r]²", "Normal quantiles"










def shown(at: AppTest) -> str:
    """Markdown, captions and alerts of the page, one string."""
    return " ".join(e.value for elements in (at.markdown, at.caption, at.warning, at.info)
                    for e in elements)


def test_latent_space_toggles(checkpoints, fresh_streamlit_cache):
    at = opened(LATENT, "qps")
    assert_translated(at, checkpoints)
    at.toggle(key="latent_ellipses").set_value(True).run()
    assert "⟦Each ellipse is one test image's q(z|x) at 2σ" in shown(at)
    assert_translated(at, checkpoints)
    at.toggle(key="latent_shared_axes").set_value(True).run()
    assert_translated(at, checkpoints)
    # Points picked in the AE's scatter: the inputs and both reconstructions, captioned.
    at.session_state["latent_scatter_ae"] = {"selection": {
        "points": [{"customdata": 3}, {"customdata": 5}], "point_indices": [3, 5], "box": [],
        "lasso": []}}
    at.run()
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    assert captions[0] == "⟦Inputs: test #3, 5⟧" and len(captions) == 3
    assert_translated(at, checkpoints)
    ko = opened(LATENT, "ko", latent_ellipses="true", latent_shared_axes="true")
    assert hangul(" ".join(visible_text(ko))) > 200


def test_decoder_grid_every_spacing(checkpoints, fresh_streamlit_cache):
    at = opened(GRID, "qps")
    assert at.radio(key="grid_spacing").value == FIT
    assert "⟦Each grid spans its own model's codes" in shown(at)
    assert_translated(at, checkpoints)
    at.radio(key="grid_spacing").set_value(SQUARE).run()  # r = 3: only the middle of the AE's codes
    assert "⟦This grid spans ±3.0, but the AE's codes span" in shown(at)
    assert_translated(at, checkpoints)
    slider = at.slider(key="grid_r")
    slider.set_value(slider.max).run()  # wide enough for all the AE's codes
    assert "and holds all the AE's codes" in shown(at)
    assert_translated(at, checkpoints)
    at.radio(key="grid_spacing").set_value(QUANTILES).run()
    at.toggle(key="grid_shared_axes").set_value(True).run()
    assert_translated(at, checkpoints)
    for spacing in (FIT, SQUARE, QUANTILES):  # a Korean link names the Korean label
        assert translate(spacing, "ko") != spacing
        ko = opened(GRID, "ko", grid_spacing=translate(spacing, "ko"))
        assert ko.radio(key="grid_spacing").value == spacing and hangul(" ".join(visible_text(ko))) > 100


@pytest.mark.slow  # five runs of the generation tests' page
def test_generate_every_source_and_interpolation(checkpoints, fresh_streamlit_cache):
    at = opened(GENERATE, "qps")
    for source in SOURCES:
        at.radio(key="generate_source").set_value(source).run()
        title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
        assert f"⟦{SOURCE_NAMES[source]}⟧" in title
        assert_translated(at, checkpoints)
    at.radio(key="interp_by").set_value("index").run()
    assert_translated(at, checkpoints)
    ko = opened(GENERATE, "ko", interp_by=translate("index", "ko"),
                generate_source=translate(SOURCE_NAMES["box"], "ko"))
    assert ko.radio(key="interp_by").value == "index"
    assert ko.radio(key="generate_source").value == "box" and hangul(" ".join(visible_text(ko))) > 200


@pytest.mark.slow  # trains a collapsing VAE, walks three pages in two languages
@pytest.mark.parametrize("page", [LATENT, GRID, GENERATE])
def test_collapsed_vae_says_the_claim_does_not_hold(page, collapsed):
    at = opened(page, "qps")
    says = {LATENT: "⟦The KL term has not packed the VAE's classes",
            GRID: "⟦The VAE collapsed: its decoder ignores z",
            GENERATE: "⟦This pair cannot show the lesson"}[page]
    assert says in shown(at)
    assert_translated(at, collapsed)
    if page == GRID:  # every spacing meets the collapsed VAE's one-image grid
        for spacing in (SQUARE, QUANTILES):
            at.radio(key="grid_spacing").set_value(spacing).run()
            assert_translated(at, collapsed)
    ko = opened(page, "ko")
    assert "사후 분포" in shown(ko) and "붕괴" in shown(ko)
    expected = {LATENT: "KL 항이 VAE의 클래스들을 0 주변에 나란히 모아 놓지 못했어요",
                GRID: "모든 타일이 같은 이미지예요",
                GENERATE: "이 쌍으로는 이 교훈을 보여 줄 수 없어요"}[page]
    assert expected in shown(ko)


@pytest.mark.slow  # trains two odd-sized runs
def test_odd_latent_sizes(odd_checkpoints, fresh_streamlit_cache):
    at = opened(LATENT, "qps")
    assert_translated(at, odd_checkpoints)
    at = opened(GRID, "qps")
    at.radio(key="grid_hold").set_value("the code of a test image").run()
    assert_translated(at, odd_checkpoints)
    at = opened(GENERATE, "qps")
    assert_translated(at, odd_checkpoints)
    ko = opened(GRID, "ko", grid_hold=translate("the code of a test image", "ko"))
    assert ko.radio(key="grid_hold").value == "the code of a test image"


def caption_cases() -> list[str]:
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
