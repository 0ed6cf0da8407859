"""The Decoder grid page (AppTest through the frame), in every language: a grid fitted to each
model's codes, then the square and quantile spacings and their sliders; a collapsed VAE."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import chart_specs as specs
from helpers import page_text, values
from i18n_walk import LANGS, hangul, in_language, opened, tr, visible_text
from ui.i18n import translate
from ui.navigation import DECODER_GRID

GRID = DECODER_GRID.file
# The option values of the spacing radio (language-neutral: the English labels).
FIT, SQUARE, QUANTILES = "Fit to each model's codes", "Square [-r, r]²", "Normal quantiles"


def set_spacing(at, spacing: str):
    # Through session state: AppTest calls a widget's format_func outside the script run, where
    # ``_`` cannot see the session's language, so ``radio.set_value`` only works in English.
    at.session_state["grid_spacing"] = spacing
    return at.run()


@pytest.mark.parametrize("lang", LANGS)
def test_grid_fits_codes_then_spacings_and_sliders(lang, pair_view):
    english = lang != "ko"  # qps shows the English inside ⟦ ⟧
    at = in_language(opened(GRID, lang), lang, pair_view)
    assert at.radio(key="grid_spacing").value == FIT
    assert at.slider(key="grid_r").disabled
    grid_ae, scatter_ae, grid_vae, scatter_vae = specs(at)
    source = grid_vae["data"][0]["source"]
    assert source.startswith("data:image/png;base64,")
    assert [t.get("name") for t in scatter_vae["data"]][-1] == tr(lang)("grid extent")
    # Fitted: each grid spans its own codes (the AE's reach far beyond the prior's ±3).
    ae_codes = np.concatenate([values(t["x"]) for t in scatter_ae["data"] if t.get("mode") == "markers"])
    ae_half = max(scatter_ae["data"][-1]["x"])
    assert ae_half > 3 and ae_half >= 0.5 * np.abs(ae_codes).max()
    assert max(scatter_vae["data"][-1]["x"]) < ae_half
    if english:
        assert "Each grid spans its own model's codes" in page_text(at)
    assert at.slider(key="grid_r").max >= ae_half  # the square's slider reaches the AE's extent

    in_language(set_spacing(at, SQUARE), lang, pair_view)
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(3.0)  # default r
    if english:  # r = 3: only the middle of the AE's codes
        assert "This grid spans ±3.0, but the AE's codes span" in page_text(at)
        assert "shows only the middle of the AE's space" in page_text(at)
    at.slider(key="grid_n").set_value(20).run()
    grid_vae_20 = specs(at)[2]
    assert grid_vae_20["data"][0]["source"] != source
    assert len(grid_vae_20["layout"]["xaxis"]["ticktext"]) < 20  # thinned tick labels
    at.slider(key="grid_r").set_value(1.5).run()
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(1.5)
    slider = at.slider(key="grid_r")
    in_language(slider.set_value(slider.max).run(), lang, pair_view)  # wide enough for all the AE's codes
    if english:
        assert "and holds all the AE's codes" in page_text(at)

    in_language(set_spacing(at, QUANTILES), lang, pair_view)
    assert at.slider(key="grid_r").disabled
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(1.6449, abs=1e-3)  # ppf(0.95)
    in_language(at.toggle(key="grid_shared_axes").set_value(True).run(), lang, pair_view)
    if lang == "ko":
        for spacing in (FIT, SQUARE, QUANTILES):  # a Korean link names the Korean label
            assert translate(spacing, "ko") != spacing
            ko = opened(GRID, "ko", grid_spacing=translate(spacing, "ko"))
            assert ko.radio(key="grid_spacing").value == spacing and hangul(" ".join(visible_text(ko))) > 100


@pytest.mark.parametrize("lang", LANGS)
def test_collapsed_vae_grid_is_one_image(lang, collapsed):
    at = in_language(opened(GRID, lang), lang, collapsed)
    if lang != "ko":
        assert ("⟦" if lang == "qps" else "") + "The VAE collapsed: its decoder ignores z" in page_text(at)
    else:
        assert "사후 분포" in page_text(at) and "붕괴" in page_text(at)
        assert "모든 타일이 같은 이미지예요" in page_text(at)
    for spacing in (SQUARE, QUANTILES):  # every spacing meets the collapsed VAE's one-image grid
        in_language(set_spacing(at, spacing), lang, collapsed)
