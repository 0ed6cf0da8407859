"""Issue #12 for the shared tools (run pickers, panels, export, links, canvas), the Draw a digit
page and the Loss-convention lab: the states those can reach walked in the ``qps`` pseudo-locale,
every lab variant's sentences through a marking gettext, and URL-bound widgets with translated
labels keeping the user's choice across languages."""
from __future__ import annotations

import base64
import io
import shutil
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from helpers import as_shown, no_exception, page_app
from i18n_walk import PSEUDO_SPAN, untranslated, visible_text, words_outside_catalog
from ui.i18n import translate
from helpers import train_and_save
from vae_core import ModelConfig, TrainConfig
from vae_core.analysis import drawing
from vae_core.analysis.drawing import DrawingError, image_from_data_url, model_input
from vae_core.analysis.lab import (LAB_TRAIN, SYMPTOMS, VARIANTS, WRONG, LabRun, diagnose,
                                   train_variant)

DRAW = "pages/8_Draw_a_digit.py"
LAB = "pages/9_Loss_lab.py"
DATA = ["demo-ae", "demo-vae", "demo-vae-2", "odd-ae", "odd-vae", "digits"]  # names on screen that are data
def mine(at) -> list[str]:
    """What the qps walk flags on the page."""
    return untranslated(at, DATA)


def marked(message: str) -> str:
    return translate(message, "qps")


def png_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stroke_url() -> str:
    im = Image.new("RGB", (280, 280), "black")
    ImageDraw.Draw(im).line([(150, 50), (150, 230)], fill="white", width=22)
    return png_url(im)


@pytest.fixture
def two_vaes(checkpoints):
    """The demo pair plus a second VAE, so a picker has a choice that is not its default."""
    shutil.copytree(checkpoints / "demo-vae", checkpoints / "demo-vae-2")
    return checkpoints


# --- pages in the pseudo-locale ------------------------------------------------------------------

def test_draw_page_with_a_drawing_is_all_catalog_text(checkpoints, fresh_streamlit_cache):
    at = page_app(DRAW, 120)
    at.query_params["lang"] = "qps"
    at.session_state["draw_canvas"] = {"image": stroke_url()}  # what the canvas sends after a stroke
    no_exception(at.run())
    assert len(at.get("plotly_chart")) == 2 and len(at.get("image")) >= 4
    assert mine(at) == []
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert any(c.startswith("⟦AE reconstruction: the judge reads") for c in captions)
    assert any(c.startswith("⟦VAE: 8 draws z ~ q(z|x), decoded") for c in captions)


def test_draw_page_empty_canvas_test_image_and_run_errors_are_catalog_text(checkpoints, fresh_streamlit_cache):
    at = page_app(DRAW, 120)
    at.query_params["lang"] = "qps"
    at.session_state["draw_canvas"] = {"image": png_url(Image.new("RGB", (280, 280), "black"))}
    no_exception(at.run())
    assert "⟦The canvas is empty" in at.info[0].value  # the drawing's error, translated whole
    assert mine(at) == []
    at.radio(key="draw_source").set_value("A test image").run()
    no_exception(at)
    assert at.selectbox(key="draw_test_class").options[0].startswith("⟦class")
    assert mine(at) == []


def test_mismatched_pair_and_plane_picker_are_catalog_text(tmp_path, digits, monkeypatch,
                                                           fresh_streamlit_cache):
    """A 1-d AE beside a 3-d VAE: the size warning, the 1-d notice, the plane picker (PCA and two
    dims) on the Draw page in qps."""
    tcfg = TrainConfig(epochs=1, batch_size=128, seed=0)
    base = ModelConfig(kind="vae", hidden=(16,), input_shape=digits.image_shape)
    train_and_save(tmp_path, "odd-ae", replace(base, kind="ae", latent_dim=1), tcfg, digits, group="odd")
    train_and_save(tmp_path, "odd-vae", replace(base, latent_dim=3), tcfg, digits, group="odd")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(tmp_path))
    at = page_app(DRAW, 120)
    at.query_params["lang"] = "qps"
    at.session_state["draw_source"] = "A test image"
    no_exception(at.run())
    assert any(w.value.startswith("⟦Latent sizes differ") for w in at.warning)
    assert at.radio(key="draw_plane_mode").value == "PCA projection"
    assert at.radio(key="draw_plane_mode").options == ["⟦PCA projection⟧", "⟦Two latent dims⟧"]
    assert mine(at) == []
    at.radio(key="draw_plane_mode").set_value("Two latent dims").run()
    no_exception(at)
    assert at.selectbox(key="draw_dim_x").label == "⟦x dim⟧"
    assert mine(at) == []


def test_no_runs_notice_is_catalog_text(empty_checkpoints, fresh_streamlit_cache):
    at = page_app(DRAW, 120)
    at.query_params["lang"] = "qps"
    no_exception(at.run())
    assert at.info and mine(at) == []


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["kl_sign", "sigma_squared"])
def test_loss_lab_is_all_catalog_text(variant, fresh_streamlit_cache):
    at = page_app(LAB, 180)
    at.query_params["lang"] = "qps"
    at.session_state["lab_epochs"] = 20
    at.session_state["lab_variant"] = variant
    no_exception(at.run())
    assert (at.success or at.warning)[0].value.startswith("⟦**Expected symptom")
    assert list(at.table[0].value.columns) == ["⟦number⟧", "⟦correct VAE⟧", "⟦wrong variant⟧", "⟦better⟧"]
    assert mine(at) == []


@pytest.mark.slow
def test_every_lab_diagnosis_is_translated_whole(digits):
    """Each variant's title, explanation and every sentence ``diagnose`` can say (symptom held or
    not, and a diverged arm) come from the catalog as whole messages: through a marking gettext
    the text is one ⟦…⟧ span whose placeholders were filled, no English left outside."""
    correct = train_variant("correct", digits, train_cfg=replace(LAB_TRAIN, epochs=2))
    zeros = dict.fromkeys(("recon", "kl", "kl_as_trained", "elbo", "recon_as_trained", "recon_gap",
                           "centring", "scale_error", "elbo_as_trained"), 0.0)
    probes = [{**zeros, "active_units": 2},  # no symptom anywhere
              {**zeros, "active_units": 0, "kl_as_trained": 5.0, "recon_gap": 50.0,
               "elbo_as_trained": correct.numbers["elbo"]},  # collapse, gaps, a consistent model
              {**zeros, "active_units": 2, "kl": 1e5}]  # the KL blew up
    for key in ["correct", *WRONG]:
        v = VARIANTS[key]
        for text in (marked(v.title), marked(v.why)):
            assert words_outside_catalog(text) == [], text
        seen = set()
        for numbers in probes:
            probe = LabRun(key, correct.model, [], "finished", correct.reason_message,
                           correct.reason_values, numbers)
            d, english = diagnose(probe, correct, gettext=marked), diagnose(probe, correct)
            seen.add(d.holds)
            assert d.symptom == marked(english.symptom) and english.symptom in SYMPTOMS.values()
            assert d.text == marked(english.text), d.text  # one message, its numbers filled in
            assert PSEUDO_SPAN.fullmatch(d.text) and "{" not in d.text
        assert seen == ({True} if key == "correct" else {True, False}), key
    broken = LabRun("kl_sign", correct.model, [], "diverged", "the weights became non-finite at step {step} "
                    "(epoch {epoch})", {"step": 7, "epoch": 1})
    d = diagnose(broken, correct, gettext=marked)
    assert d.holds and "7" in d.text and words_outside_catalog(d.text) == []
    assert diagnose(broken, correct).text == ("Training diverged (the weights became non-finite at step 7 "
                                              "(epoch 1)); the weights are no longer finite.")


def test_drawing_errors_are_messages_with_placeholders():
    with pytest.raises(DrawingError) as e:
        image_from_data_url("data:image/png;base64," + png_url(Image.new("RGB", (2100, 8))).split(",")[1])
    side = drawing.MAX_SIDE
    assert str(e.value) == f"The drawing is larger than {side}×{side} pixels."
    assert translate(e.value.message, "ko", **e.value.values) == f"그림이 {side}×{side} 픽셀보다 커요."
    with pytest.raises(DrawingError) as e:
        model_input(image_from_data_url(png_url(Image.new("RGB", (28, 28)))), (1, 8, 8))
    assert words_outside_catalog(translate(e.value.message, "qps", **e.value.values)) == []


# --- links and the language switch ---------------------------------------------------------------

def open_link(page: str, **params: str):
    at = page_app(page, 120)
    for k, v in params.items():
        at.query_params[k] = v
    return no_exception(at.run())


@pytest.mark.parametrize("made_in, opened_in", [("en", "ko"), ("ko", "en")])
def test_a_run_link_opens_the_same_run_in_the_other_language(made_in, opened_in, two_vaes,
                                                            fresh_streamlit_cache):
    at = open_link(DRAW, lang=made_in)
    box = at.selectbox(key="vae_run")
    assert box.value == "demo-vae-2"  # the newest VAE is the default: pick the other one
    box.set_value("demo-vae").run()
    url = at.selectbox(key="vae_run").format_func("demo-vae")  # what the browser writes
    assert url.startswith("demo-vae (digits, ") and ("latent 2" in url) == (made_in == "en")

    shared = open_link(DRAW, lang=opened_in, vae_run=url)
    assert shared.selectbox(key="vae_run").value == "demo-vae" and not shared.warning
    shown = shared.selectbox(key="vae_run").format_func("demo-vae")
    assert ("잠재" in shown) == (opened_in == "ko")
    # the next rerun puts the label of this language in the URL, and the choice stays
    shared.run()
    assert shared.query_params.get("vae_run") == shown
    assert shared.selectbox(key="vae_run").value == "demo-vae"


def test_a_link_may_name_the_bare_run_and_an_unknown_one_falls_back(two_vaes, fresh_streamlit_cache):
    at = open_link(DRAW, lang="ko", vae_run="demo-vae", ae_run="deleted-run")
    assert at.selectbox(key="vae_run").value == "demo-vae"
    assert at.selectbox(key="ae_run").value == "demo-ae"
    shown = as_shown(at.warning[0].value) if len(at.warning) == 1 else ""
    assert "'deleted-run'" in shown and "demo-ae" in shown
    assert "링크" in at.warning[0].value


def test_switching_the_language_keeps_the_picked_runs_and_updates_the_url(two_vaes, fresh_streamlit_cache):
    at = open_link(DRAW)
    at.selectbox(key="vae_run").set_value("demo-vae").run()
    at.radio(key="draw_source").set_value("A test image").run()
    at.selectbox(key="draw_test_class").set_value(3).run()
    for lang, word in (("ko", "잠재"), ("en", "latent"), ("ko", "잠재")):
        # the sidebar switch's value (AppTest drops the frame's sidebar from its tree after the
        # first run, so the switch is set through its key, as its click would)
        at.session_state["lang"] = lang
        at.run()
        no_exception(at)
        vae = at.selectbox(key="vae_run")
        assert vae.value == "demo-vae" and word in vae.format_func("demo-vae")
        assert at.radio(key="draw_source").value == "A test image"
        assert at.selectbox(key="draw_test_class").value == 3
        # the browser is told the label of the new language, so the URL keeps the choice
        assert at.query_params.get("vae_run") == vae.format_func("demo-vae")
        at.run()  # a later rerun (the browser now sends the new label) keeps it too
        assert at.selectbox(key="vae_run").value == "demo-vae"
        assert at.selectbox(key="draw_test_class").value == 3


@pytest.mark.slow
def test_lab_variant_link_in_either_language(fresh_streamlit_cache):
    korean = translate(VARIANTS["kl_sign"].title, "ko")
    at = open_link(LAB, lang="en", lab_variant=korean, lab_epochs="20")
    assert at.selectbox(key="lab_variant").value == "kl_sign" and not at.warning
    at = open_link(LAB, lang="ko", lab_variant="KL sign flipped", lab_epochs="20")
    assert at.selectbox(key="lab_variant").value == "kl_sign" and not at.warning
    assert korean in " ".join(visible_text(at))
