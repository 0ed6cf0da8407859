"""The Draw a digit page (AppTest through the frame), in every language: a drawing read by both
encoders and redrawn by both decoders, an empty canvas, a test image, a mismatched pair's plane
picker, no runs, a collapsed VAE; the drawing's errors as catalog messages."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from helpers import page_app, page_text, png_url, stroke_image
from helpers import no_exception as ok
from i18n_walk import LANGS, in_language, tr, words_outside_catalog
from ui.i18n import translate
from ui.navigation import DRAW_A_DIGIT
from vae_core.analysis import drawing
from vae_core.analysis.drawing import DrawingError, image_from_data_url, model_input

DRAW = DRAW_A_DIGIT.file


def draw_page(lang: str, canvas: Image.Image | None = None, **state):
    """The page in ``lang`` after the canvas sent ``canvas`` (and with ``state`` set)."""
    at = page_app(DRAW, 120)
    at.query_params["lang"] = lang
    if canvas is not None:
        at.session_state["draw_canvas"] = {"image": png_url(canvas)}  # what the canvas sends
    for key, value in state.items():
        at.session_state[key] = value
    return ok(at.run())


def prefix(message: str) -> str:
    """The words of a caption before its first value (``|``)."""
    return message.split("|")[0]


@pytest.mark.parametrize("lang", LANGS)
def test_page_shows_both_encoders_for_a_drawing(lang, pair_view):
    _ = tr(lang)
    at = in_language(draw_page(lang, stroke_image()), lang, pair_view)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = [[t.get("name") for t in s["data"]] for s in specs]
    assert len(specs) == 2 and len(at.get("image")) >= 4
    assert _("your drawing") in names[0] and "q(z|x) 1σ" not in names[0]  # the AE: a point
    assert _("your drawing (μ)") in names[1] and "q(z|x) 1σ" in names[1]
    assert _("{k} draws z ~ q(z|x)", k=8) in names[1]
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    for model in ("AE", "VAE"):
        reads = _("{model} reconstruction: the judge reads {name} (p = {p:.2f})", model=model, name="|", p=0)
        assert any(c.startswith(prefix(reads)) for c in captions), captions
    draws = _("{model}: {k} draws z ~ q(z|x), decoded; the judge reads: {reads}", model="VAE", k=8, reads="|")
    assert any(c.startswith(prefix(draws)) for c in captions), captions
    # Issue 16.5: no "the cloud widens where it is unsure"; σ is measured and shown instead.
    if lang != "ko":
        text = " ".join(c.value for c in at.caption)
        assert "widens where it is unsure" not in text and "is not a measure of how unsure" in text
        assert "VAE's mean σ, measured: test images" in text and "Your input: " in text


@pytest.mark.parametrize("lang", LANGS)
def test_empty_canvas_and_a_test_image(lang, pair_view):
    _ = tr(lang)
    at = in_language(draw_page(lang, Image.new("RGB", (280, 280), "black")), lang, pair_view)
    assert at.info[0].value.startswith(_("The canvas is empty: draw a digit first."))  # the drawing's error, whole
    at.session_state["draw_source"] = "A test image"  # (format_func: set_value is English only)
    in_language(at.run(), lang, pair_view)
    assert at.selectbox(key="draw_test_class").options[0] == _("class {name}", name="0")


@pytest.mark.parametrize("lang", LANGS)
def test_mismatched_pair_and_plane_picker(lang, odd_checkpoints, fresh_streamlit_cache):
    """A 1-d AE beside a 3-d VAE: the size warning, the 1-d notice, the plane picker (PCA and two
    dims)."""
    _ = tr(lang)
    at = in_language(draw_page(lang, draw_source="A test image"), lang, odd_checkpoints)
    assert any(w.value.startswith(prefix(_("Latent sizes differ (AE {ae}, VAE {vae}); plots use each model's "
                                           "own space.", ae="|", vae=3))) for w in at.warning)
    assert at.radio(key="draw_plane_mode").value == "PCA projection"
    assert at.radio(key="draw_plane_mode").options == [_("PCA projection"), _("Two latent dims")]
    at.session_state["draw_plane_mode"] = "Two latent dims"
    in_language(at.run(), lang, odd_checkpoints)
    assert at.selectbox(key="draw_dim_x").label == _("x dim")


@pytest.mark.parametrize("lang", LANGS)
def test_no_runs(lang, empty_checkpoints, fresh_streamlit_cache):
    at = in_language(draw_page(lang), lang, empty_checkpoints)
    assert at.info and not at.get("plotly_chart")


@pytest.mark.parametrize("lang", LANGS)
def test_warns_about_a_collapsed_vae(lang, collapsed):
    """Like every page that shows a pair's latent maps, Draw a digit says when the VAE collapsed."""
    at = in_language(draw_page(lang), lang, collapsed)
    assert at.warning
    if lang != "ko":
        assert "posterior collapsed" in page_text(at), [w.value for w in at.warning]


def test_drawing_errors_are_messages_with_placeholders():
    with pytest.raises(DrawingError) as e:
        image_from_data_url("data:image/png;base64," + png_url(Image.new("RGB", (2100, 8))).split(",")[1])
    side = drawing.MAX_SIDE
    assert str(e.value) == f"The drawing is larger than {side}×{side} pixels."
    assert translate(e.value.message, "ko", **e.value.values) == f"그림이 {side}×{side} 픽셀보다 커요."
    with pytest.raises(DrawingError) as e:
        model_input(image_from_data_url(png_url(Image.new("RGB", (28, 28)))), (1, 8, 8))
    assert words_outside_catalog(translate(e.value.message, "qps", **e.value.values)) == []
