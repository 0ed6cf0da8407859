"""Model shapes for both kinds and both architectures, pair initialisation, and the loss oracle."""
from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_core import ModelConfig, build_model, kl_per_dim, loss_terms, reparameterize


@pytest.mark.parametrize("arch, hidden", [("mlp", (32, 16)), ("conv", (8, 16))])
@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (1, 7, 9)])
def test_shapes(kind, arch, hidden, shape):
    cfg = ModelConfig(kind=kind, latent_dim=3, arch=arch, hidden=hidden, input_shape=shape)
    model = build_model(cfg)
    x = torch.rand(5, *shape)
    out = model(x)
    assert out.recon_logits.shape == x.shape
    assert out.z.shape == out.mu.shape == (5, 3)
    mu, logvar = model.encode(x)
    assert mu.shape == (5, 3)
    assert (logvar is None) == (kind == "ae")
    if kind == "vae":
        assert out.logvar.shape == (5, 3)
    assert model.decode(torch.zeros(2, 3)).shape == (2, *shape)


def test_pair_differs_only_in_bottleneck():
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
    ae, vae = build_model(cfg.with_kind("ae"), seed=3), build_model(cfg, seed=3)
    for part in ("encoder", "decoder"):
        for (na, pa), (nv, pv) in zip(getattr(ae, part).state_dict().items(),
                                      getattr(vae, part).state_dict().items()):
            assert na == nv and torch.equal(pa, pv)
    assert torch.equal(ae.head.weight, vae.head.weight[:2])  # the VAE's mu head starts as the AE's
    assert not torch.equal(build_model(cfg, seed=4).decoder.net[0].weight, vae.decoder.net[0].weight)


def test_closed_form_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(64, 5, generator=g) * 2, torch.randn(64, 5, generator=g)
    oracle = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    torch.testing.assert_close(kl_per_dim(mu, logvar), oracle, rtol=1e-5, atol=1e-6)


def test_reparameterize_uses_sigma_not_variance():
    mu, logvar = torch.full((200_000, 1), 1.0), torch.full((200_000, 1), 2 * torch.log(torch.tensor(3.0)))
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(float(z.mean()) - 1.0) < 0.05
    assert abs(float(z.std()) - 3.0) < 0.05  # sigma = 3; a variance-scaled eps would give 9


def test_loss_terms_are_per_image_and_beta_weighted():
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 4, 4))
    model = build_model(cfg)
    x = torch.rand(6, 1, 4, 4)
    out = model(x, generator=torch.Generator().manual_seed(0))
    t1, t3 = loss_terms(out, x, beta=1.0), loss_terms(out, x, beta=3.0)
    bce = torch.nn.functional.binary_cross_entropy(torch.sigmoid(out.recon_logits), x, reduction="sum") / 6
    torch.testing.assert_close(t1["recon"], bce, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(t3["loss"], t1["recon"] + 3.0 * t1["kl"])
    doubled = loss_terms(type(out)(out.recon_logits.repeat(2, 1, 1, 1), out.z.repeat(2, 1),
                                   out.mu.repeat(2, 1), out.logvar.repeat(2, 1)), x.repeat(2, 1, 1, 1))
    torch.testing.assert_close(doubled["loss"], t1["loss"])  # independent of batch size
    ae = build_model(cfg.with_kind("ae"))
    assert float(loss_terms(ae(x), x, beta=5.0)["kl"]) == 0.0


def test_config_validation():
    with pytest.raises(ValueError):
        ModelConfig(kind="gan")
    with pytest.raises(ValueError):
        ModelConfig(latent_dim=0)
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"kind": "vae", "evil": 1})
    assert ModelConfig.from_dict(ModelConfig(hidden=(3, 4)).to_dict()) == ModelConfig(hidden=(3, 4))


@pytest.mark.parametrize("arch, hidden", [("mlp", (16, 8)), ("conv", (4, 8))])
def test_init_is_pytorchs_own_default_drawn_from_an_explicit_generator(arch, hidden):
    """An oracle: ``init_weights`` draws what PyTorch's ``reset_parameters`` draws from the global
    RNG seeded alike, layer by layer, but from the generator it is given."""
    from vae_core.models import Decoder, Encoder, init_weights

    cfg = ModelConfig(kind="vae", latent_dim=3, arch=arch, hidden=hidden, input_shape=(1, 9, 7))
    for net in (Encoder(cfg), Decoder(cfg)):
        init_weights(net, torch.Generator().manual_seed(11))
        ours = {k: v.clone() for k, v in net.state_dict().items()}
        with torch.random.fork_rng():
            torch.manual_seed(11)
            for m in net.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        assert all(torch.equal(ours[k], v) for k, v in net.state_dict().items())


def test_both_models_take_the_generator_by_keyword_only():
    x = torch.rand(4, 1, 8, 8)
    for kind in ("ae", "vae"):
        model = build_model(ModelConfig(kind=kind, hidden=(8,)))
        with pytest.raises(TypeError):
            model(x, torch.Generator())
        out = model(x, generator=torch.Generator().manual_seed(0))
        assert out.recon_logits.shape == x.shape and (out.logvar is None) == (kind == "ae")
