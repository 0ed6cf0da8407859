"""The loss: the one place where the (beta-)ELBO is written down.

Numbers are per image: summed over pixels, averaged over the batch, in nats, so they do not
change with the batch size. Reconstruction is Bernoulli (binary cross-entropy on logits).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from vae_core.models import ModelOutput


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, 1) ) for each dimension, (B, D) in nats.

    Closed form from Kingma & Welling (2014), appendix B:
    -0.5 * (1 + logvar - mu^2 - exp(logvar)).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def recon_per_image(recon_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent Bernoulli pixels, one value per image (B,): the one
    reconstruction term (binary cross-entropy on logits, summed over pixels)."""
    bce = F.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    return bce.flatten(1).sum(1)


def loss_terms(out: ModelOutput, x: torch.Tensor, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """``{"loss": recon + beta * kl, "recon", "kl"}``, each a scalar per image (batch mean).

    For the AutoEncoder ``kl`` is 0 and ``loss`` is the reconstruction alone.
    """
    batch = x.shape[0]
    recon = recon_per_image(out.recon_logits, x).sum() / batch
    if out.logvar is None:
        kl = recon.new_zeros(())
    else:
        kl = kl_per_dim(out.mu, out.logvar).sum() / batch
    return {"loss": recon + beta * kl, "recon": recon, "kl": kl}

