"""An AE plus a fitted density as a generator (Ghosh et al. 2020, "From Variational to
Deterministic Autoencoders", ex-post density estimation): after training, fit a Gaussian mixture
with ``MIXTURE_COMPONENTS`` full-covariance components (scikit-learn ``GaussianMixture``) to the
model's codes, sample it, decode, and judge the draws exactly as ``generation`` judges its three
sources (same judge, confidence threshold, class cap, gap radius).

The lesson it carries: an AE can generate once a density is fitted to its codes *after*
training; a VAE's prior N(0, I) is known *before*, and training pulls the codes towards it.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from vae_core.analysis.codes import gap_radius, nearest_code_distance
from vae_core.analysis.generation import (GENERATION_SAMPLES, SOURCE_NAMES, SOURCES, GenerationTest,
                                          class_shares, decoder_codes, judge_codes)
from vae_core.models import LatentModel
from vae_core.text import N_, Translate, no_translation

MIXTURE = "mixture"
MIXTURE_COMPONENTS = 10
MIXTURE_SEED_OFFSET = 3  # generation's sources use seed + 0, 1, 2
# The AE's sources on the Generate page: generation's three and the fitted mixture.
AE_SOURCES = SOURCES + (MIXTURE,)
AE_SOURCE_NAMES = {**SOURCE_NAMES,
                   MIXTURE: N_("a 10-Gaussian mixture fitted to its codes")}


def sample_mixture(codes: np.ndarray | torch.Tensor, n: int = GENERATION_SAMPLES, seed: int = 0,
                   components: int = MIXTURE_COMPONENTS) -> torch.Tensor:
    """n draws (n, D) float32 from a ``components``-Gaussian mixture fitted to ``codes`` (N, D)
    (full covariances, k-means initialisation, seeded; fewer components when there are fewer
    codes)."""
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
                              random_state=int(seed) + MIXTURE_SEED_OFFSET).fit(c)
    z, _ = gmm.sample(n)
    # GaussianMixture.sample returns the draws grouped by component: shuffle them (seeded), so
    # the first tiles a page shows are not all from one component.
    order = np.random.default_rng(int(seed) + MIXTURE_SEED_OFFSET).permutation(n)
    return torch.as_tensor(z[order], dtype=torch.float32)


def mixture_test(model: LatentModel, mu: np.ndarray | torch.Tensor,
                 logvar: np.ndarray | torch.Tensor | None, judge: Any,
                 n: int = GENERATION_SAMPLES, seed: int = 0,
                 class_freq: Any = None) -> GenerationTest:
    """``generation.generation_test`` with the fitted mixture as the source: fitted to
    ``decoder_codes(mu, logvar, seed)``, judged and placed against those codes."""
    codes = decoder_codes(mu, logvar, seed)
    z = sample_mixture(codes, n, seed)
    confidence, label, k = judge_codes(model, judge, z)
    return GenerationTest(MIXTURE, z.numpy(), confidence, label, nearest_code_distance(z, codes),
                          gap_radius(codes), k, class_shares(class_freq, k))


@torch.no_grad()
def dataset_mixture_test(model: LatentModel, dataset: Any, judge: Any,
                         n: int = GENERATION_SAMPLES, seed: int = 0) -> GenerationTest:
    """``mixture_test`` on ``dataset.test_x`` with its class counts (as the scorecard's tests)."""
    clf = getattr(judge, "model", judge)
    mu, logvar = model.encode_all(dataset.test_x)
    freq = torch.bincount(dataset.test_y, minlength=int(getattr(clf, "n_classes", 0)))
    return mixture_test(model, mu, logvar, clf, n, seed, freq)


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
