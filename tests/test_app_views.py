"""AppTest of the four exploration pages: the demo pair, no runs at all, and odd latent sizes."""
from __future__ import annotations

import base64

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from helpers import chart_specs as specs
from helpers import no_exception, open_page
from ui import navigation
from vae_core.analysis.latent_tools import kl_closed_form

LATENT = navigation.LATENT_SPACE.file
GRID = navigation.DECODER_GRID.file
GENERATE = navigation.GENERATE.file
REPARAM = navigation.REPARAMETERIZATION.file
PAGES = (LATENT, GRID, GENERATE, REPARAM)


def run(page: str) -> AppTest:
    return no_exception(open_page(page, timeout=60))


def image_urls(at: AppTest) -> list[str]:
    return [im.proto.imgs[0].url for im in at.get("image")]  # the URL is a hash of the pixels


def values(data: list | dict) -> np.ndarray:
    """A trace's x/y as numpy: plotly 6+ writes numpy arrays as base64 typed arrays."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data, dtype=float)


def trace_names(spec: dict) -> list[str]:
    return [t.get("name") for t in spec["data"]]


@pytest.mark.parametrize("page", PAGES)
def test_pages_without_runs(page, empty_checkpoints, fresh_streamlit_cache):
    at = run(page)
    assert any("No trained runs yet" in i.value for i in at.info)
    charts = at.get("plotly_chart")
    # Only the reparameterization page has model-free figures (its histogram and gradients).
    assert len(charts) == (2 if page == REPARAM else 0)
    assert not at.get("image")


def test_latent_space_panels_and_ellipse_toggle(checkpoints, fresh_streamlit_cache):
    at = run(LATENT)
    ae_scatter, ae_marg, vae_scatter, vae_marg = specs(at)
    # Own scale per panel by default: each range holds its own codes, and the note says the ratio.
    for spec in (ae_scatter, vae_scatter):
        lo, hi = spec["layout"]["xaxis"]["range"]
        codes = np.concatenate([values(t["x"]) for t in spec["data"] if t.get("mode") == "markers"])
        assert lo <= codes.min() and codes.max() <= hi
    assert ae_scatter["layout"]["xaxis"]["range"] != vae_scatter["layout"]["xaxis"]["range"]
    assert any("Own scale per panel" in c.value and "narrower for the VAE" in c.value for c in at.caption)
    assert any("Here the AE's codes span ±" in m.value for m in at.markdown)
    at.toggle(key="latent_shared_axes").set_value(True).run()
    shared_ae, _, shared_vae, _ = specs(at)
    assert shared_ae["layout"]["xaxis"]["range"] == shared_vae["layout"]["xaxis"]["range"] \
        == shared_vae["layout"]["yaxis"]["range"]
    assert any(c.value.startswith("Shared axes") for c in at.caption)
    at.toggle(key="latent_shared_axes").set_value(False).run()
    assert trace_names(ae_scatter)[:3] == ["prior N(0, I): 1σ, 2σ, 3σ", "prior 2σ", "prior 3σ"]
    assert sum(t.get("mode") == "markers" for t in vae_scatter["data"]) == 10  # one per digit class
    assert [t["type"] for t in vae_marg["data"]] == ["bar", "scatter", "bar", "scatter"]
    assert "q(z|x) 2σ" not in trace_names(vae_scatter)
    assert "Select points" in " ".join(c.value for c in at.caption) or "Click a point" in " ".join(
        c.value for c in at.caption)

    at.toggle(key="latent_ellipses").set_value(True).run()
    assert not at.exception
    ae_after, _, vae_after, _ = specs(at)
    assert trace_names(vae_after)[-1] == "q(z|x) 2σ"
    assert ae_after == ae_scatter  # the AE has no posterior: its panel is unchanged


def test_decoder_grid_fits_codes_then_sliders(checkpoints, fresh_streamlit_cache):
    at = run(GRID)
    assert at.radio(key="grid_spacing").value == "Fit to each model's codes"
    assert at.slider(key="grid_r").disabled
    grid_ae, scatter_ae, grid_vae, scatter_vae = specs(at)
    source = grid_vae["data"][0]["source"]
    assert source.startswith("data:image/png;base64,")
    assert trace_names(scatter_vae)[-1] == "grid extent"
    # Fitted: each grid spans its own codes (the AE's reach far beyond the prior's ±3).
    ae_codes = np.concatenate([values(t["x"]) for t in scatter_ae["data"] if t.get("mode") == "markers"])
    ae_half = max(scatter_ae["data"][-1]["x"])
    assert ae_half > 3 and ae_half >= 0.5 * np.abs(ae_codes).max()
    assert max(scatter_vae["data"][-1]["x"]) < ae_half
    assert "Each grid spans its own model's codes" in " ".join(m.value for m in at.markdown)
    assert at.slider(key="grid_r").max >= ae_half  # the square's slider reaches the AE's extent

    at.radio(key="grid_spacing").set_value("Square [-r, r]²").run()
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(3.0)  # default r
    assert "shows only the middle of the AE's space" in " ".join(m.value for m in at.markdown)
    at.slider(key="grid_n").set_value(20).run()
    grid_vae_20 = specs(at)[2]
    assert grid_vae_20["data"][0]["source"] != source
    assert len(grid_vae_20["layout"]["xaxis"]["ticktext"]) < 20  # thinned tick labels

    at.slider(key="grid_r").set_value(1.5).run()
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(1.5)

    at.radio(key="grid_spacing").set_value("Normal quantiles").run()
    assert at.slider(key="grid_r").disabled
    assert max(specs(at)[3]["data"][-1]["x"]) == pytest.approx(1.6449, abs=1e-3)  # ppf(0.95)


def test_generate_sources_and_interpolation(checkpoints, fresh_streamlit_cache):
    at = run(GENERATE)
    tiles_ae, map_ae, tiles_vae, map_vae, histogram = specs(at)[:5]
    assert tiles_ae["layout"]["title"]["text"] == "AE: 64 of 1000 draws from N(0, I)"
    assert len(tiles_ae["layout"]["annotations"]) == 64  # the judge's class and confidence per tile
    assert {"draw near codes", "draw in a gap"} == {n.split(" (")[0] for n in trace_names(map_ae)
                                                    if n and n.startswith("draw")}
    assert histogram["layout"]["xaxis"]["type"] == "category"
    assert histogram["data"][0]["x"][-1] == "not confident"
    assert "Drawn from N(0, I), the AE's samples cover" in " ".join(m.value for m in at.markdown)
    assert "junk" not in " ".join(c.value for c in at.caption)

    at.radio(key="generate_source").set_value("fitted").run()
    assert specs(at)[0]["layout"]["title"]["text"] == "AE: 64 of 1000 draws from a Gaussian fitted to its codes"
    assert specs(at)[2] == tiles_vae  # the VAE always samples its prior

    urls = image_urls(at)
    assert len(urls) == 2  # the two interpolation strips
    path_before = specs(at)[-1]["data"][-1]
    at.selectbox(key="interp_to_class").set_value(7).run()
    assert image_urls(at) != urls
    path_after = specs(at)[-1]["data"][-1]
    assert path_after["name"] == "path" and path_after["x"] != path_before["x"]

    at.radio(key="interp_by").set_value("index").run()
    at.number_input(key="interp_from_index").set_value(5).run()
    at.slider(key="interp_frames").set_value(4).run()
    assert not at.exception
    assert len(values(specs(at)[-1]["data"][-1]["x"])) == 4


def test_reparameterization_sliders_and_kl(checkpoints, fresh_streamlit_cache):
    at = run(REPARAM)
    hist, grads, ae_post, vae_post = specs(at)
    assert trace_names(vae_post)[-3:] == ["q(z|x) 2σ", "16 draws z = μ + σ·ε", "μ"]
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
    assert specs(at)[3]["layout"]["xaxis"]["range"] != [x0, x1]  # back to all codes at own scale
    at.toggle(key="reparam_zoom").set_value(True).run()
    metrics = {m.label: m.value for m in at.metric}
    closed = float(metrics["Closed form (used in training)"].split()[0])
    assert closed == pytest.approx(kl_closed_form(1.0, 0.5), abs=1e-4)

    at.slider(key="reparam_mu").set_value(-1.0).run()
    at.slider(key="reparam_sigma").set_value(2.0).run()
    hist2 = specs(at)[0]
    assert hist2 != hist
    metrics = {m.label: m.value for m in at.metric}
    closed = float(metrics["Closed form (used in training)"].split()[0])
    assert closed == pytest.approx(kl_closed_form(-1.0, 2.0), abs=1e-4)
    assert abs(float(metrics["Difference in standard errors"])) < 4

    n_images = len(at.get("image"))
    at.slider(key="reparam_k").set_value(4).run()
    assert len(values(specs(at)[3]["data"][-2]["x"])) == 4
    assert len(at.get("image")) == n_images


def test_pages_with_1d_and_3d_latents(odd_checkpoints, fresh_streamlit_cache):
    for page in PAGES:
        at = run(page)
        assert any("Latent sizes differ" in w.value for w in at.warning)
        if page != GENERATE:
            assert any("1-d latent space" in i.value for i in at.info)
    at = run(LATENT)
    assert at.radio(key="latent_plane_mode").value == "PCA projection"  # the default above 2 dims
    at.toggle(key="latent_ellipses").set_value(True).run()
    assert not at.exception
    vae_scatter = specs(at)[2]
    assert vae_scatter["layout"]["xaxis"]["title"]["text"].startswith("PC1")
    assert trace_names(vae_scatter)[-1] == "q(z|x) 2σ"  # ellipses projected onto the PCA plane
    at.radio(key="latent_plane_mode").set_value("Two latent dims").run()
    at.selectbox(key="latent_dim_x").set_value(2).run()
    assert not at.exception
    assert specs(at)[2]["layout"]["xaxis"]["title"]["text"] == "z3"

    at = run(GRID)
    at.radio(key="grid_hold").set_value("the code of a test image").run()
    at.number_input(key="grid_base_index").set_value(3).run()
    assert not at.exception and len(specs(at)) == 4
