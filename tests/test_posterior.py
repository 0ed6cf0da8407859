"""The true posterior on a grid: normalised, and its log p(x) agrees with the IWAE estimate."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vae_core import ModelConfig, TrainConfig, run_to_end, train
from vae_core.analysis.posterior import iwae_nll_per_image
from vae_core.models import build_model
from vae_core.analysis.posterior import grid_posterior

TOLERANCE = 0.5  # nats: grid log p(x) vs IWAE with k = 5000 (observed gaps are below 0.1)


@pytest.fixture(scope="module")
def vae(digits):  # 40 epochs: the tests that use it are marked slow
    """Trained long enough that q(z|x) is narrower than the prior (a non-trivial posterior)."""
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=digits.image_shape)
    end = run_to_end(train(cfg, TrainConfig(epochs=40, batch_size=64, lr=3e-3, seed=0), digits))
    return end["model"]


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 2, 3])
def test_grid_log_px_matches_iwae(vae, digits, index):
    x = digits.test_x[index]
    gp = grid_posterior(vae, x)
    nll, _ = iwae_nll_per_image(vae, x.unsqueeze(0), k=5000, seed=1)
    assert abs(gp.log_px - (-float(nll[0]))) < TOLERANCE
    assert gp.sigma.min() < 0.6  # the encoder is confident in at least one direction
    # ELBO <= log p(x): the gap is KL(q || p(z|x)) >= 0 (up to Monte Carlo noise).
    assert gp.gap > -0.05
    # Oracle: the gap is KL(q(z|x) || p(z|x)), here summed over the grid cells.
    g2, g1 = np.meshgrid(gp.zs2, gp.zs1, indexing="ij")
    log_q = (-0.5 * (((g1 - gp.mu[0]) / gp.sigma[0]) ** 2 + ((g2 - gp.mu[1]) / gp.sigma[1]) ** 2)
             - np.log(2 * np.pi * gp.sigma[0] * gp.sigma[1]))
    area = (gp.zs1[1] - gp.zs1[0]) * (gp.zs2[1] - gp.zs2[0])
    kl_on_grid = float((np.exp(log_q) * (log_q - gp.log_post)).sum() * area)
    assert gp.gap == pytest.approx(kl_on_grid, abs=0.1)


@pytest.mark.slow
def test_grid_is_a_normalised_density(vae, digits):
    gp = grid_posterior(vae, digits.test_x[1], n=120)
    area = (gp.zs1[1] - gp.zs1[0]) * (gp.zs2[1] - gp.zs2[0])
    assert gp.post.shape == (120, 120)
    assert float(gp.post.sum() * area) == pytest.approx(1.0, abs=1e-6)
    # q's 2-sigma box stays inside the plotted grid so the overlay can be compared.
    assert gp.zs1[0] <= gp.mu[0] - 2 * gp.sigma[0] and gp.zs1[-1] >= gp.mu[0] + 2 * gp.sigma[0]
    assert gp.zs2[0] <= gp.mu[1] - 2 * gp.sigma[1] and gp.zs2[-1] >= gp.mu[1] + 2 * gp.sigma[1]
    assert math.isfinite(gp.kl_q_prior) and gp.kl_q_prior >= 0


def test_needs_a_latent_2_vae(digits):
    for kind, latent in (("ae", 2), ("vae", 3)):
        cfg = ModelConfig(kind=kind, latent_dim=latent, hidden=(8,), input_shape=digits.image_shape)
        with pytest.raises(ValueError, match="latent size 2"):
            grid_posterior(build_model(cfg), digits.test_x[0])
