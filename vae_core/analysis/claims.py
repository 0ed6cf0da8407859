"""The claims VAE Lab makes about AE vs VAE, each with the scorecard metric that tests it.

Plain data (no torch), so the Overview lists them before torch is loaded; ``metrics`` computes
the numbers behind them and re-exports ``CLAIMS``.
"""
from __future__ import annotations

from vae_core.text import N_

# Claims and explanations are English, marked with N_ for the catalogs: a UI translates them
# where it shows them (the CLI's JSON carries only the metric keys).
CLAIMS: list[dict[str, str]] = [
    {"claim": N_("VAE codes sit around the prior's centre 0; AE codes drift anywhere"),
     "metric": "centring"},
    {"claim": N_("VAE codes have unit spread in every direction; AE codes have an arbitrary scale"),
     "metric": "scale_error"},
    {"claim": N_("As a whole, the VAE's code cloud matches the prior N(0, I)"),
     "metric": "prior_kl"},
    {"claim": N_("The VAE fills the prior's 2-sigma disk; the AE leaves regions with no code"),
     "metric": "coverage"},
    {"claim": N_("Even at equal scale, the VAE's codes fill their own 2-sigma disk more evenly"),
     "metric": "coverage_standardised"},
    {"claim": N_("The holes between AE codes are larger than the VAE's (relative to each cloud's spread)"),
     "metric": "largest_gap"},
    {"claim": N_("Nearby points decode to similar images: z = (-2, 2) looks like (-2.1, 2.1) "
                 "(in units of each cloud's spread)"),
     "metric": "smoothness"},
    {"claim": N_("Decoding z ~ N(0, I) gives recognisable images of many classes from a VAE; an "
                 "AE's draws reach only the classes near 0"),
     "metric": "prior_confident"},
    {"claim": N_("Decoded z ~ N(0, I) look clean, whatever their class"),
     "metric": "prior_confident_raw"},
    {"claim": N_("Prior samples cover all classes, not a few"),
     "metric": "prior_class_entropy"},
    {"claim": N_("The AE reconstructs a little better: the VAE pays for its regular space"),
     "metric": "recon"},
    {"claim": N_("The KL term measures how far each q(z|x) is from the prior"),
     "metric": "kl"},
    {"claim": N_("The ELBO is a lower bound of the (Bernoulli) log p(x); the gap is "
                 "KL(q(z|x) || p(z|x))"),
     "metric": "iwae_nll"},
    {"claim": N_("Too large a beta collapses the posterior: no active latent units"),
     "metric": "active_units"},
]
