"""Unit tests of vae_core.analysis.latent_tools and the exploration figures, on the real tiny demo pair."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from vae_core import ModelConfig, build_model, kl_per_dim, load_run

from vae_core.viz import evidence_figures, figures, image_figures
from ui.panels import upscale
from ui.pickers import selected_indices
from vae_core.viz.image_figures import tile
from vae_core.analysis.latent_tools import (dims_projection, decode_images, encode_dataset,
                                            ellipse_outlines, first_of_class, grid_axis, grid_codes,
                                            interpolate, kl_closed_form, kl_monte_carlo, pca_2d,
                                            plane_coords, posterior_ellipses, posterior_samples,
                                            reparam_demo, sample_prior, shared_range,
                                            subset_indices)


@pytest.fixture(scope="module")
def pair(pair_root):
    return load_run(pair_root / "demo-ae"), load_run(pair_root / "demo-vae")


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_encode_and_decode_shapes_and_models_untouched(pair, digits):
    ae, vae = pair
    before = _state(vae.model)
    x = digits.test_x[:300]
    mu, logvar = encode_dataset(vae.model, x, batch=128)  # several batches
    assert mu.shape == logvar.shape == (300, 2) and mu.dtype == np.float32
    with torch.no_grad():
        ref_mu, ref_logvar = vae.model.encode(x)
    np.testing.assert_allclose(mu, ref_mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar, ref_logvar.numpy(), rtol=1e-5, atol=1e-6)
    ae_mu, ae_logvar = encode_dataset(ae.model, x)
    assert ae_mu.shape == (300, 2) and ae_logvar is None
    images = decode_images(ae.model, ae_mu[:7])
    assert images.shape == (7, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert all(torch.equal(before[k], v) for k, v in vae.model.state_dict().items())
    assert not vae.model.training


def test_decode_images_28x28_conv_model():
    model = build_model(ModelConfig(kind="vae", latent_dim=3, arch="conv", hidden=(8, 16),
                                    input_shape=(1, 28, 28))).eval()
    assert decode_images(model, np.zeros((5, 3), np.float32)).shape == (5, 28, 28)


def test_grid_codes_square_extent_and_orientation():
    codes = grid_codes(5, 2, r=2.0)
    assert codes.shape == (25, 2)
    assert codes.min() == pytest.approx(-2.0) and codes.max() == pytest.approx(2.0)
    grid = codes.reshape(5, 5, 2)
    np.testing.assert_allclose(grid[0, :, 0], np.linspace(-2, 2, 5))  # x grows to the right
    np.testing.assert_allclose(grid[:, 0, 1], np.linspace(2, -2, 5))  # top row has the largest y


def test_grid_codes_quantiles_and_held_dims():
    axis = grid_axis(9, quantiles=True)
    from scipy.stats import norm
    np.testing.assert_allclose(axis, norm.ppf(np.linspace(0.05, 0.95, 9)), atol=1e-12)
    base = np.arange(4, dtype=np.float32)
    codes = grid_codes(9, 4, quantiles=True, dims=(3, 1), base_z=base)
    assert codes.shape == (81, 4)
    np.testing.assert_allclose(codes[:, 0], 0.0)  # held at base_z
    np.testing.assert_allclose(codes[:, 2], 2.0)
    np.testing.assert_allclose(np.unique(codes[:, 3]), axis, rtol=1e-6)
    strip = grid_codes(6, 1, r=1.0, dims=(0,))  # latent_dim 1: one row of n codes
    assert strip.shape == (6, 1)
    with pytest.raises(ValueError):
        grid_codes(3, 2, r=1.0, dims=(1, 1))


def test_tile_shape_and_placement():
    images = np.stack([np.full((3, 4), i, np.float32) for i in range(7)])
    out = tile(images, 3, pad=1, pad_value=-1)
    assert out.shape == (3 * 3 + 2, 3 * 4 + 2)
    assert out[4, 5] == 4  # row 1, column 1 holds image 4
    assert out[-1, -1] == -1  # the missing 9th cell is padding
    assert tile(images, 7).shape == (3, 28)
    assert upscale(np.zeros((8, 16)), min_width=64).shape == (32, 64)


def test_pca_finds_dominant_axis():
    g = np.random.default_rng(0)
    direction = np.array([1.0, 2.0, -2.0]) / 3.0
    x = g.normal(size=(2000, 1)) * 5.0 * direction + g.normal(size=(2000, 3)) * 0.1 + 7.0
    proj = pca_2d(x)
    assert proj.components.shape == (2, 3)
    assert abs(abs(proj.components[0] @ direction) - 1) < 1e-3
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-10)
    p = proj(x)
    assert p.shape == (2000, 2) and abs(p.mean(0)).max() < 1e-4
    assert p[:, 0].std() > 20 * p[:, 1].std()
    # The prior N(0, I) maps to a unit circle around -W m, the projected origin.
    np.testing.assert_allclose(proj.prior_center, proj(np.zeros((1, 3)))[0], atol=1e-5)
    assert proj.axis_titles[0].startswith("PC1")


def test_dims_projection_and_one_d_jitter():
    proj = dims_projection(4, (2, 0))
    z = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(proj(z), [[2, 0], [6, 4]])
    assert proj.dims == (2, 0) and proj.axis_titles == ("z3", "z1")
    one = dims_projection(1, (0, 1))
    xy = plane_coords(one(np.ones((5, 1))))
    assert xy.shape == (5, 2) and np.all(xy[:, 0] == 1) and np.all(np.abs(xy[:, 1]) <= 0.5)
    with pytest.raises(ValueError):
        dims_projection(2, (0, 2))


def test_ellipses_follow_the_covariance():
    outline = ellipse_outlines(np.array([[1.0, -1.0]]), np.array([[[4.0, 0.0], [0.0, 1.0]]]), 2.0, 64)
    assert outline.shape == (1, 64, 2)
    assert outline[0, :, 0].max() == pytest.approx(1 + 2 * 2, abs=1e-2)  # 2 sigma of sd 2
    assert outline[0, :, 1].max() == pytest.approx(-1 + 2 * 1, abs=1e-2)
    proj = dims_projection(3, (0, 2))
    ell = posterior_ellipses(np.zeros((2, 3)), np.log(np.array([[1.0, 9.0, 4.0]] * 2)), proj, 1.0)
    assert ell.shape[0] == 2 and ell[0, :, 1].max() == pytest.approx(2.0, abs=1e-2)


def test_shared_range_covers_points_and_prior():
    lo, hi = shared_range(np.array([[10.0, 0.0]]), np.array([[0.0, -1.0]]))
    assert lo <= -3 and hi >= 10
    lo, hi = shared_range(np.zeros((1, 2)), prior_centers=[(0, 0), (5, 0)])
    assert lo <= -3 and hi >= 8


def test_reparam_gradients_are_exact():
    demo = reparam_demo(0.7, 1.3, 500, seed=3)
    np.testing.assert_array_equal(demo.dz_dsigma, demo.eps)  # exactly, not approximately
    np.testing.assert_array_equal(demo.dz_dmu, np.ones(500))
    np.testing.assert_allclose(demo.z, 0.7 + 1.3 * demo.eps)
    again = reparam_demo(0.7, 1.3, 500, seed=3)
    np.testing.assert_array_equal(again.eps, demo.eps)


@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (1.0, 0.5), (-2.0, 2.5), (0.3, 0.05)])
def test_kl_monte_carlo_agrees_with_closed_form(mu, sigma):
    est = kl_monte_carlo(mu, sigma, 20_000, seed=1)
    ref = float(torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                                  torch.distributions.Normal(0.0, 1.0)))
    assert est.closed_form == pytest.approx(ref, rel=1e-6, abs=1e-9)
    assert est.closed_form == pytest.approx(
        float(kl_per_dim(torch.tensor([[mu]]), torch.tensor([[2 * np.log(sigma)]]))), rel=1e-5, abs=1e-7)
    if est.std_error == 0:  # mu = 0, sigma = 1: every term is exactly 0
        assert est.monte_carlo == pytest.approx(0.0, abs=1e-12)
    else:
        assert abs(est.monte_carlo - est.closed_form) < 4 * est.std_error
    assert kl_closed_form(0.0, 1.0) == 0.0


def test_posterior_samples_and_prior_draws(pair, digits):
    ae, vae = pair
    post = posterior_samples(vae.model, digits.test_x[5:6], 12, seed=0)
    assert post.z.shape == (12, 2) and post.images.shape == (12, 8, 8)
    spread = (post.z - post.mu).std(0)
    assert np.all(spread > 0)
    np.testing.assert_allclose(spread, np.exp(0.5 * post.logvar), rtol=0.8)
    with pytest.raises(ValueError):
        posterior_samples(ae.model, digits.test_x[:1], 3)
    a, b = sample_prior(64, 2, 0.5, seed=4), sample_prior(64, 2, 1.0, seed=4)
    np.testing.assert_allclose(a, 0.5 * b, rtol=1e-6)
    assert not np.allclose(sample_prior(64, 2, 1.0, seed=5), b)


def test_interpolate_and_helpers(digits):
    path = interpolate(np.zeros(3), np.array([2.0, 4.0, -2.0]), 5)
    assert path.shape == (5, 3)
    np.testing.assert_allclose(path[2], [1.0, 2.0, -1.0])
    np.testing.assert_allclose(path[-1], [2.0, 4.0, -2.0])
    i = first_of_class(digits.test_y, 3)
    assert int(digits.test_y[i]) == 3 and all(int(y) != 3 for y in digits.test_y[:i])
    assert first_of_class(digits.test_y, 42) is None
    sub = subset_indices(100, 10)
    assert len(sub) == 10 and len(set(sub)) == 10 and np.array_equal(sub, subset_indices(100, 10))


def test_selected_indices_from_a_plotly_selection():
    state = {"selection": {"points": [
        {"curve_number": 3, "point_index": 0, "customdata": 17},
        {"curve_number": 4, "point_index": 2, "customdata": [5]},
        {"curve_number": 0, "point_index": 9},  # a prior contour: no customdata
        {"curve_number": 3, "point_index": 0, "customdata": 17},  # repeat
    ], "box": [], "lasso": []}}
    assert selected_indices(state) == [17, 5]
    assert selected_indices(None) == []
    assert selected_indices({"selection": {"points": []}}) == []


def test_latent_scatter_traces_and_shared_axes(pair, digits):
    ae, vae = pair
    labels = digits.test_y.numpy()
    codes = [encode_dataset(r.model, digits.test_x)[0] for r in pair]
    rng = shared_range(*codes)
    n_classes = len(np.unique(labels))
    figs = [figures.latent_scatter(c, labels, digits.class_names, t, rng) for c, t in zip(codes, "AB")]
    for fig in figs:
        kinds = [type(t).__name__ for t in fig.data]  # 359 points: SVG for all traces
        assert kinds == ["Scatter"] * (3 + n_classes)  # the prior's 1/2/3σ circles, then classes
        assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range) == rng
        points = [t for t in fig.data if t.mode == "markers"]
        assert sum(len(t.customdata) for t in points) == len(labels)
    assert figs[0].layout.xaxis.range == figs[1].layout.xaxis.range
    many = np.random.default_rng(0).normal(size=(10_000, 2))
    big = figures.latent_scatter(many, np.arange(10_000) % 10, digits.class_names, "M", rng)
    assert [type(t).__name__ for t in big.data].count("Scattergl") == 10  # WebGL for 10,000 codes
    _, logvar = encode_dataset(vae.model, digits.test_x[:20])
    ell = posterior_ellipses(codes[1][:20], logvar, dims_projection(2))
    fig = figures.latent_scatter(codes[1], labels, digits.class_names, "V", rng, ellipses=ell)
    assert fig.data[-1].name == "q(z|x) 2σ"
    assert sum(v is None for v in fig.data[-1].x) == 20  # one gap per ellipse
    one_d = figures.latent_scatter(plane_coords(codes[1][:, :1]), labels, digits.class_names, "1d",
                                   rng, one_d=True)
    assert len(one_d.data) == n_classes  # no prior circles on a 1-d axis


def test_other_figures(digits):
    codes = np.random.default_rng(0).normal(size=(500, 2))
    fig = figures.marginal_histograms(codes, ("z[0]", "z[1]"), (-4, 4))
    assert [type(t).__name__ for t in fig.data] == ["Bar", "Scatter", "Bar", "Scatter"]
    assert sum(fig.data[0].y * fig.data[0].width) == pytest.approx(1.0)  # a density
    grid = image_figures.decoded_grid(np.random.rand(25, 8, 8), 5, "g", grid_axis(5, 2.0))
    assert grid.data[0].source.startswith("data:image/png;base64,")
    assert list(grid.layout.xaxis.ticktext)[0] == "-2"
    demo = reparam_demo(1.0, 0.5, 300)
    hist = evidence_figures.reparam_histogram(demo.z, 1.0, 0.5)
    assert sum(hist.data[0].y * hist.data[0].width) == pytest.approx(1.0)
    grads = evidence_figures.gradient_scatter(demo.eps, demo.dz_dsigma, demo.dz_dmu)
    np.testing.assert_array_equal(grads.data[1].x, grads.data[1].y)  # dz/dsigma on y = eps
    fig = figures.add_path(figures.add_extent(go.Figure(), (-1, 1), (-1, 1)), np.zeros((4, 2)))
    assert [t.name for t in fig.data] == ["grid extent", "path"]
    json.loads(fig.to_json())
