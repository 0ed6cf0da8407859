"""The Latent space page (AppTest through the frame), in every language: each panel's scale, the
toggles, picked points, and a collapsed VAE whose captions say the claim does not hold."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import chart_specs as specs
from helpers import page_text, values
from i18n_walk import LANGS, hangul, in_language, opened, tr, visible_text
from ui.navigation import LATENT_SPACE

LATENT = LATENT_SPACE.file


def trace_names(spec: dict) -> list[str]:
    return [t.get("name") for t in spec["data"]]


@pytest.mark.parametrize("lang", LANGS)
def test_panels_toggles_and_picked_points(lang, pair_view):
    _ = tr(lang)
    english = lang != "ko"  # qps shows the English inside ⟦ ⟧
    at = in_language(opened(LATENT, lang), lang, pair_view)
    ae_scatter, ae_marg, vae_scatter, vae_marg = specs(at)
    # Own scale per panel by default: each range holds its own codes, and the note says the ratio.
    for spec in (ae_scatter, vae_scatter):
        lo, hi = spec["layout"]["xaxis"]["range"]
        codes = np.concatenate([values(t["x"]) for t in spec["data"] if t.get("mode") == "markers"])
        assert lo <= codes.min() and codes.max() <= hi
    assert ae_scatter["layout"]["xaxis"]["range"] != vae_scatter["layout"]["xaxis"]["range"]
    if english:
        assert any("Own scale per panel" in c.value and "narrower for the VAE" in c.value for c in at.caption)
        assert any("Here the AE's codes span ±" in m.value for m in at.markdown)
        assert "Select points" in page_text(at) or "Click a point" in page_text(at)
    assert trace_names(ae_scatter)[:3] == [_("prior N(0, I): 1σ, 2σ, 3σ"), _("prior {k}σ", k=2),
                                           _("prior {k}σ", k=3)]
    assert sum(t.get("mode") == "markers" for t in vae_scatter["data"]) == 10  # one per digit class
    assert [t["type"] for t in vae_marg["data"]] == ["bar", "scatter", "bar", "scatter"]
    assert "q(z|x) 2σ" not in trace_names(vae_scatter)

    at.toggle(key="latent_shared_axes").set_value(True).run()
    in_language(at, lang, pair_view)
    shared_ae, _ae, shared_vae, _vae = specs(at)
    assert shared_ae["layout"]["xaxis"]["range"] == shared_vae["layout"]["xaxis"]["range"] \
        == shared_vae["layout"]["yaxis"]["range"]
    if english:
        assert any(c.value.startswith(("Shared axes", "⟦Shared axes")) for c in at.caption)
    at.toggle(key="latent_shared_axes").set_value(False).run()

    at.toggle(key="latent_ellipses").set_value(True).run()
    in_language(at, lang, pair_view)
    if english:
        assert "Each ellipse is one test image's q(z|x) at 2σ" in page_text(at)
    ae_after, _ae, vae_after, _vae = specs(at)
    assert trace_names(vae_after)[-1] == "q(z|x) 2σ"
    assert ae_after == ae_scatter  # the AE has no posterior: its panel is unchanged
    at.toggle(key="latent_shared_axes").set_value(True).run()
    in_language(at, lang, pair_view)
    # Points picked in the AE's scatter: the inputs and both reconstructions, captioned.
    at.session_state["latent_scatter_ae"] = {"selection": {
        "points": [{"customdata": 3}, {"customdata": 5}], "point_indices": [3, 5], "box": [],
        "lasso": []}}
    at.run()
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    assert captions[0] == _("Inputs: test #{indices}", indices="3, 5") and len(captions) == 3
    in_language(at, lang, pair_view)
    if lang == "ko":  # both toggles from a Korean link
        ko = opened(LATENT, "ko", latent_ellipses="true", latent_shared_axes="true")
        assert hangul(" ".join(visible_text(ko))) > 200


@pytest.mark.parametrize("lang", LANGS)
def test_collapsed_vae_is_warned_and_captions_flip(lang, collapsed):
    at = in_language(opened(LATENT, lang), lang, collapsed)
    if lang == "en":
        assert "collapsed" in at.selectbox(key="vae_run").format_func(at.selectbox(key="vae_run").value)
        warning = " ".join(w.value for w in at.warning)
        assert "posterior collapsed" in warning and "lower β" in warning and "Alemi et al. 2018" in warning
        assert "narrower for the VAE" not in " ".join(c.value for c in at.caption)  # no 5000x ratio
        assert "only because its posterior collapsed" in " ".join(c.value for c in at.caption)
    if lang != "ko":
        assert ("⟦" if lang == "qps" else "") + "The KL term has not packed the VAE's classes" in page_text(at)
    else:
        assert "사후 분포" in page_text(at) and "붕괴" in page_text(at)
        assert "KL 항이 VAE의 클래스들을 0 주변에 나란히 모아 놓지 못했어요" in page_text(at)
