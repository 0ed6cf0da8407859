"""The loss-convention lab: each wrong variant fails in the direction its diagnosis names, and the
correct arm is exactly the dashboard's loss."""
from __future__ import annotations

import inspect

import pytest
import torch

from vae_core import ModelConfig, TrainConfig, build_model, loss_terms
from vae_core.lab import VARIANTS, WRONG, diagnose, train_variant

FAST_MODEL = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=(1, 8, 8))
FAST_TRAIN = TrainConfig(epochs=15, batch_size=64, lr=3e-3, seed=0)


@pytest.fixture(scope="module")
def fast_correct(digits):
    return train_variant("correct", digits, FAST_MODEL, FAST_TRAIN)


@pytest.fixture(scope="module")
def lab_correct(digits):
    return train_variant("correct", digits)


def test_correct_arm_is_the_one_loss(digits):
    model = build_model(FAST_MODEL)
    x = digits.test_x[:32]
    v = VARIANTS["correct"]
    ours = v.objective(v.forward(model, x, torch.Generator().manual_seed(3)), x, 1.0)
    ref = loss_terms(model(x, generator=torch.Generator().manual_seed(3)), x, 1.0)
    for k in ("loss", "recon", "kl"):
        torch.testing.assert_close(ours[k], ref[k])
    # the wrong code exists only in the lab: the training path never imports it
    import vae_core.losses
    import vae_core.models
    import vae_core.train
    for module in (vae_core.losses, vae_core.train, vae_core.models):
        assert ".lab" not in inspect.getsource(module)


def test_sigma_squared_forward_uses_sigma_squared():
    model = build_model(FAST_MODEL)
    x = torch.rand(4, 1, 8, 8)
    mu, logvar = model.encode(x)
    out = VARIANTS["sigma_squared"].forward(model, x, torch.Generator().manual_seed(0))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.z, mu + logvar.exp() * eps)


@pytest.mark.parametrize("variant", ["mean_pixels", "mse_mean", "kl_sign", "uniform_eps"])
def test_fast_variants_fail_as_diagnosed(variant, digits, fast_correct):
    wrong = train_variant(variant, digits, FAST_MODEL, FAST_TRAIN)
    d = diagnose(wrong, fast_correct)
    assert d.holds, d.text
    n, c = wrong.numbers, fast_correct.numbers
    if variant in ("mean_pixels", "mse_mean"):  # collapse
        assert n["kl"] < 0.05 < c["kl"] and n["active_units"] == 0 < c["active_units"]
    elif variant == "kl_sign":  # KL explodes, codes leave the prior
        assert wrong.status == "diverged" or (n["kl"] > 100 * c["kl"] and n["centring"] > 10 * c["centring"])
    else:  # sampled properly, the decoder does much worse than on the noise it trained with
        assert n["recon_gap"] > 1.0 and abs(c["recon_gap"]) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("variant", WRONG)
def test_every_variant_fails_as_diagnosed_at_lab_settings(variant, digits, lab_correct):
    wrong = train_variant(variant, digits)
    d = diagnose(wrong, lab_correct)
    assert d.holds, d.text
    assert lab_correct.numbers["active_units"] == 2  # the reference itself is healthy
    assert wrong.numbers["elbo"] < lab_correct.numbers["elbo"] or wrong.status == "diverged"
