"""The Reparameterization & KL page (AppTest through the frame), in every language: the sliders,
the KL's closed form against its Monte-Carlo estimate, one image's q(z|x) and its decoded draws,
the σ-not-σ² note computed from the draws, and a collapsed VAE."""
from __future__ import annotations

import re

import pytest

from helpers import chart_specs as specs
from helpers import values
from i18n_walk import LANGS, in_language, opened, tr
from ui.navigation import REPARAMETERIZATION
from vae_core.analysis.latent_tools import kl_closed_form

REPARAM = REPARAMETERIZATION.file


def trace_names(spec: dict) -> list[str]:
    return [t.get("name") for t in spec["data"]]


def closed_form_kl(at, lang: str) -> float:
    metrics = {m.label: m.value for m in at.metric}
    return float(re.search(r"-?\d+\.\d+", metrics[tr(lang)("Closed form (used in training)")]).group())


def sigma_note(at) -> str:
    """The info box that explains z = μ + σ·ε against the blog post's σ²ε."""
    notes = [i.value for i in at.info if "σ²·ε" in i.value]
    assert len(notes) == 1, [i.value for i in at.info]
    return notes[0]


@pytest.mark.parametrize("lang", LANGS)
def test_sliders_kl_and_one_images_posterior(lang, pair_view):
    _ = tr(lang)
    at = in_language(opened(REPARAM, lang), lang, pair_view)
    hist, grads, ae_post, vae_post = specs(at)
    assert trace_names(vae_post)[-3:] == ["q(z|x) 2σ", _("{k} draws z = μ + σ·ε", k=16), "μ"]
    draws_x, draws_y = values(vae_post["data"][-2]["x"]), values(vae_post["data"][-2]["y"])
    assert len(draws_x) == 16
    # Zoomed to this image's q(z|x): centred on μ, every draw and the whole 2σ ellipse inside.
    (x0, x1), (y0, y1) = vae_post["layout"]["xaxis"]["range"], vae_post["layout"]["yaxis"]["range"]
    mu_x, mu_y = values(vae_post["data"][-1]["x"])[0], values(vae_post["data"][-1]["y"])[0]
    assert (x0 + x1) / 2 == pytest.approx(mu_x, abs=1e-4) and (y0 + y1) / 2 == pytest.approx(mu_y, abs=1e-4)
    ellipse = [v for v in vae_post["data"][-3]["x"] if v is not None]
    assert x0 < min(ellipse + list(draws_x)) and max(ellipse + list(draws_x)) < x1
    assert y0 < draws_y.min() and draws_y.max() < y1
    at.toggle(key="reparam_zoom").set_value(False).run()
    in_language(at, lang, pair_view)
    assert specs(at)[3]["layout"]["xaxis"]["range"] != [x0, x1]  # back to all codes at own scale
    at.toggle(key="reparam_zoom").set_value(True).run()
    assert closed_form_kl(at, lang) == pytest.approx(kl_closed_form(1.0, 0.5), abs=1e-4)

    at.slider(key="reparam_mu").set_value(-1.0).run()
    in_language(at.slider(key="reparam_sigma").set_value(2.0).run(), lang, pair_view)
    hist2 = specs(at)[0]
    assert hist2 != hist
    assert closed_form_kl(at, lang) == pytest.approx(kl_closed_form(-1.0, 2.0), abs=1e-4)
    metrics = {m.label: m.value for m in at.metric}
    assert abs(float(metrics[_("Difference in standard errors")])) < 4
    for change in (lambda: at.select_slider(key="reparam_n").set_value(10000),
                   lambda: at.number_input(key="reparam_seed").set_value(7),
                   lambda: at.selectbox(key="reparam_image_class").set_value(3),
                   lambda: at.number_input(key="reparam_sample_seed").set_value(5)):
        in_language(change().run(), lang, pair_view)

    n_images = len(at.get("image"))
    in_language(at.slider(key="reparam_k").set_value(4).run(), lang, pair_view)
    assert len(values(specs(at)[3]["data"][-2]["x"])) == 4
    assert len(at.get("image")) == n_images
    # every Plotly legend, axis and title of the page went through the catalog too
    names = [t.get("name") for spec in specs(at) for t in spec["data"]]
    assert _("{k} draws z = μ + σ·ε", k=4) in names and _("{n} draws of z", n=10000) in names


@pytest.mark.parametrize("lang", LANGS)
def test_sigma_note_reads_its_numbers_from_the_draws_and_names_the_blog_post(lang, pair_view):
    """The note's check is computed: at σ = 2 the draws' spread is σ, not σ² = 4."""
    at = in_language(opened(REPARAM, lang, reparam_sigma="2.0", reparam_n="10000"), lang, pair_view)
    note = sigma_note(at)
    assert "σ = exp(0.5·logvar)" in note
    if lang == "ko":
        assert "「VAE 핵심 요약」" in note and "표준편차" in note
        assert "$Z = \\mu + \\sigma^2 \\epsilon$" in note  # the formula as the post writes it, unchanged
        assert at.title[0].value == "재매개변수화 트릭과 KL"
        sd = float(re.search(r"(\d+\.\d{3})", note[note.index("표준편차"):]).group(1))
    else:
        assert note.startswith(("**Why σ·ε and not σ²·ε?**", "⟦**Why σ·ε and not σ²·ε?**"))
        assert '"VAE 핵심 요약"' in note
        sd = float(re.search(r"standard deviation (\d+\.\d+), for σ = 2\.00 \(σ² = 4\.000\)", note).group(1))
    assert sd == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("lang", LANGS)
def test_collapsed_vae(lang, collapsed):
    at = in_language(opened(REPARAM, lang), lang, collapsed)
    at.selectbox(key="vae_run").set_value("b8-vae").run()
    assert tr(lang)("This VAE collapsed: q(z|x) is the prior N(0, I) whatever the image, and its "
                    "decoder ignores z, so every draw decodes to the same average image, not a "
                    "variant of the input.") in [c.value for c in at.caption]
    in_language(at, lang, collapsed)
