"""The Loss-convention lab page (AppTest through the frame), in every language: both arms trained
(or loaded from the shipped numbers), the diagnosis computed from their numbers, a switch of
variant, a variant named by a link in either language; every diagnosis sentence a catalog
message."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from helpers import page_app
from helpers import no_exception as ok
from i18n_walk import LANGS, PSEUDO_SPAN, in_language, opened, tr, visible_text, words_outside_catalog
from ui.i18n import translate
from ui.navigation import LOSS_LAB
from vae_core.analysis.lab import (LAB_TRAIN, SYMPTOMS, VARIANTS, WRONG, LabRun, diagnose,
                                   train_variant)

LAB = LOSS_LAB.file


def marked(message: str) -> str:
    return translate(message, "qps")


def lab_page(lang: str, variant: str):
    at = page_app(LAB, 180)
    at.query_params["lang"] = lang
    at.session_state["lab_epochs"] = 20  # one of the shipped settings
    at.session_state["lab_variant"] = variant
    return ok(at.run())


@pytest.mark.parametrize("lang", LANGS)
def test_lab_shows_both_arms_and_a_computed_diagnosis(lang, fresh_streamlit_cache):
    _ = tr(lang)
    at = in_language(lab_page(lang, "kl_sign"), lang)
    verdict = (at.success or at.warning)[0].value
    assert verdict.startswith(_("**Expected symptom: {symptom}.** Seen: {evidence}", symptom="|",
                                evidence="").split("|")[0])
    if lang != "ko":
        assert "KL grows without bound" in verdict
    table = at.table[0].value
    assert list(table.columns) == [_("number"), _("correct VAE"), _("wrong variant"), _("better")]
    row = table[table[_("number")].str.contains("KL(q(z|x)", regex=False)].iloc[0]
    # the numbers behind the sentence (as shown: 3 decimals, or 3 digits in scientific notation)
    assert float(row[_("wrong variant")]) > 100 * float(row[_("correct VAE")])
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert _("Correct VAE") in titles and any(t and _(VARIANTS["kl_sign"].title) in t for t in titles)
    assert len(at.get("image")) == 2  # prior samples of both arms
    for variant in ("mean_pixels", "sigma_squared"):  # (format_func: set_value is English only)
        at.session_state["lab_variant"] = variant
        in_language(at.run(), lang)
        assert at.success or at.warning
    if lang == "en":
        ok(at.selectbox(key="lab_variant").set_value("mean_pixels").run())
        assert at.success and "collapse" in at.success[0].value


@pytest.mark.slow
def test_lab_variant_link_in_either_language(fresh_streamlit_cache):
    korean = translate(VARIANTS["kl_sign"].title, "ko")
    at = ok(opened(LAB, "en", 180, lab_variant=korean, lab_epochs="20"))
    assert at.selectbox(key="lab_variant").value == "kl_sign" and not at.warning
    at = ok(opened(LAB, "ko", 180, lab_variant="KL sign flipped", lab_epochs="20"))
    assert at.selectbox(key="lab_variant").value == "kl_sign" and not at.warning
    assert korean in " ".join(visible_text(at))


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
