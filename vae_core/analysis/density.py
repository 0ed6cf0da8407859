"""An AE plus a fitted density as a generator (Ghosh et al. 2020, "From Variational to
Deterministic Autoencoders", ex-post density estimation): after training, fit a Gaussian mixture
with ``MIXTURE_COMPONENTS`` full-covariance components (scikit-learn ``GaussianMixture``) to the
model's codes and sample it: ``generation`` decodes and judges these draws as its source
``mixture`` exactly as its three others (same judge, confidence threshold, class cap, gap
radius). Here: the sampler and the caption that compares it with the fitted Gaussian and the
VAE's prior.

The lesson it carries: an AE can generate once a density is fitted to its codes *after*
training; a VAE's prior N(0, I) is known *before*, and training pulls the codes towards it.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch

from vae_core.text import Translate, no_translation

if TYPE_CHECKING:
    from vae_core.analysis.generation import GenerationTest

MIXTURE_COMPONENTS = 10


def sample_mixture(codes: np.ndarray | torch.Tensor, n: int, seed: int,
                   components: int = MIXTURE_COMPONENTS) -> torch.Tensor:
    """n draws (n, D) float32 from a ``components``-Gaussian mixture fitted to ``codes`` (N, D)
    (full covariances, k-means initialisation, seeded; fewer components when there are fewer
    codes): ``generation.sample_codes("mixture", …)``, whose seed offset makes ``seed``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    c = np.asarray(codes.detach().cpu() if isinstance(codes, torch.Tensor) else codes,
                   dtype=np.float64)
    c = c.reshape(len(c), int(np.prod(c.shape[1:])))  # (N, D), also for N = 0
    if len(c) < 2:  # nothing to fit: the one code (or the origin) is the whole density
        return torch.as_tensor(np.repeat(c[:1] if len(c) else np.zeros((1, c.shape[1])), n, 0),
                               dtype=torch.float32)
    k = min(components, len(c))
    with warnings.catch_warnings():  # repeated codes: fewer distinct clusters than components
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-6,
                              random_state=int(seed)).fit(c)
    z, _ = gmm.sample(n)
    # GaussianMixture.sample returns the draws grouped by component: shuffle them (seeded), so
    # the first tiles a page shows are not all from one component.
    order = np.random.default_rng(int(seed)).permutation(n)
    return torch.as_tensor(z[order], dtype=torch.float32)


def _pct(share: float) -> str:
    return f"{share:.0%}"


def mixture_caption(mixture: GenerationTest, fitted: GenerationTest | None,
                    vae_prior: GenerationTest | None, vae_collapsed: bool = False,
                    gettext: Translate = no_translation) -> str:
    """What the fitted mixture does for the AE, from the numbers: its coverage, confidence and
    gaps against the single fitted Gaussian and the VAE's prior draws, and which wins."""
    k = mixture.n_classes
    out = [gettext("A mixture of {components} Gaussians fitted to the AE's codes after training "
                   "(Ghosh et al. 2020) covers {covered} of {k} classes ({confident} judged "
                   "confidently); {in_gaps} of its draws land in gaps.").format(
        components=MIXTURE_COMPONENTS, covered=mixture.classes_covered, k=k,
        confident=_pct(mixture.confident_raw), in_gaps=_pct(mixture.gap_share))]
    if fitted is not None:
        better = (mixture.classes_covered, mixture.confident_raw) > \
            (fitted.classes_covered, fitted.confident_raw)
        out.append((gettext("That beats the single fitted Gaussian ({covered} classes, {confident} "
                            "confident, {in_gaps} in gaps): its components follow the clusters.")
                    if better else
                    gettext("The single fitted Gaussian does as well or better here ({covered} "
                            "classes, {confident} confident, {in_gaps} in gaps).")).format(
            covered=fitted.classes_covered, confident=_pct(fitted.confident_raw),
            in_gaps=_pct(fitted.gap_share)))
    if vae_prior is not None and not vae_collapsed:
        ae_wins = (mixture.classes_covered, mixture.confident_raw) >= \
            (vae_prior.classes_covered, vae_prior.confident_raw)
        out.append((gettext("With it the AE generates at least as well as the VAE's N(0, I) "
                            "({covered} classes, {confident} confident).")
                    if ae_wins else
                    gettext("The VAE's N(0, I) still does better ({covered} classes, {confident} "
                            "confident).")).format(covered=vae_prior.classes_covered,
                                                   confident=_pct(vae_prior.confident_raw)))
    out.append(gettext("Either way the AE generates only once a density is fitted after training; "
                       "the VAE's prior is known before training, and training pulls its codes "
                       "towards it."))
    return " ".join(out)
