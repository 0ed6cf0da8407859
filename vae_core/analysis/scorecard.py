"""The scorecard: numbers that back each teaching claim of the AE-vs-VAE story, on the test split.

``scorecard(model, dataset, judge)`` returns a flat JSON-ready dict; ``python -m vae_core evaluate
RUN --json`` prints it. Its keys are part of the CLI's contract:

Codes: the AE's ``z``; for the VAE one seeded z ~ q(z|x) per test image (``codes: "sampled"``,
the default: the aggregate posterior, what should match N(0, I), since Var μ + E σ² ≈ 1), or its
means μ (``codes: "mean"``, narrower by design). The ``codes`` key says which.

``centring``
    ‖mean of the codes‖. Lower is better (0 = on the prior's centre).
``scale_error``
    mean over latent dims of |std_d − 1| (sample std of the codes). Lower is better.
``prior_kl``
    KL( N(m̂, Σ̂) ‖ N(0, I) ) in nats, with m̂, Σ̂ the codes' mean and covariance
    (Σ̂ + 1e-6·I so a collapsed cloud stays finite). Lower is better.
``coverage``
    share of the prior's 2-sigma disk that holds at least one code: the disk is tiled by the cells
    of a 12×12 grid over [−2, 2]² whose centres lie inside it (radius 2). Latent 2: the codes
    themselves; above 2: their 2-D view (``view``: ``pca``, the codes' top-2 PCA plane, the
    default, which a VAE's unused dims cannot occupy; or ``dims 0,1``); latent 1: 12 intervals of
    [−2, 2]. Scale is part of this claim (the prior's disk is where a VAE samples). Higher is better.
``coverage_standardised``
    the same share after standardising the view's codes (mean 0, unit std per axis): scale-free,
    "does the cloud fill its own 2-sigma disk evenly". Higher is better.
``largest_gap``
    radius, in units of the codes' own std, of the largest circle centred inside the standardised
    codes' 2-sigma disk (101×101 candidate centres) holding no code (same view): scale-free, so a
    wide cloud does not get large holes for being wide. Lower is better.
``smoothness``
    ``{"mean": …, "max": …}``: the decoder is evaluated on a 41×41 grid over the codes' own
    2-sigma box (their mean ± 2 std along each view axis, step 0.1 std: the "(−2, 2) vs
    (−2.1, 2.1)" claim made scale-free, so neither space wins for being larger); for each pair of
    horizontally or vertically neighbouring cells, the mean absolute pixel change (pixels in
    [0, 1]); mean and max over all pairs. Lower is smoother.
``prior_confident``
    share of 1,000 decoded z ~ N(0, I) (seeded) that the judge classifier (``classifier.py``)
    labels with probability ≥ 0.9, each class counted at most up to its share of the test split
    (so a decoder that draws crisp 7s only cannot score high: 1.0 = every sample recognisable and
    the classes in the data's proportions): *clean and diverse* samples. Higher is better.
``prior_confident_raw``
    the same share without the per-class cap: *clean* samples, whatever their class (an AE whose
    draws are all crisp 1s scores high here and low above). Higher is better.
``prior_class_entropy``
    entropy in nats of the histogram of predicted classes of those 1,000 samples (mode coverage:
    ln 10 ≈ 2.303 means all ten classes equally often). Higher is better.
``fitted_confident``, ``fitted_confident_raw``, ``fitted_class_entropy``, ``box_…`` likewise
    the same three numbers for 1,000 draws from a Gaussian fitted to the model's own test codes
    (their mean and covariance) and for 1,000 draws uniform over their bounding box
    (``generation.py``: the fair generation test; codes = the AE's z, or one z ~ q(z|x) per image
    for the VAE).
``prior_classes_covered``, ``fitted_classes_covered``, ``box_classes_covered``
    classes (of K) with at least a fifth of their fair share of the draws (0.2 / K: 20 of 1,000
    for ten classes) decoded to images the judge labels as that class with p ≥ 0.9. Higher is
    better; K = all classes reached.
``prior_in_gaps``, ``fitted_in_gaps``, ``box_in_gaps``
    share of the draws whose nearest test code is farther than ``gap_radius`` (the 95th percentile
    of the codes' own nearest-neighbour distances, full latent space): draws in a gap between
    codes, where the decoder never trained. About 0.05 is the baseline of a space without gaps.
``prior_class_counts``, ``fitted_class_counts``, ``box_class_counts``
    confident draws per predicted class (a list of K counts): the class histogram.
``generation_n``, ``gap_radius``
    draws per source (1,000) and the in-a-gap distance of this model's codes.
``code_span``
    half-width r of the smallest centred square [−r, r]^D holding the codes' 0.5th–99.5th
    percentile box (``codes.code_span``): "the codes span ±r"; the prior's 2-sigma box is ±2.
``collapsed``
    true when the VAE's posterior collapsed on the test split: no active unit or mean KL below
    0.1 nat (``collapse.py``); always false for the AE. The scorecard's verdict
    (``claim_verdict``) never counts a collapsed VAE's better number as a win.
``recon``
    test reconstruction, the Bernoulli cross-entropy −log p(x|z) per image in nats
    (``losses.recon_per_image``). The pixels are grey levels in [0, 1], not 0/1, so this and every
    "log p(x)" below are Bernoulli *scores*, not normalised log-likelihoods: even a perfect
    decoder cannot go below ``recon_floor``;
    for the VAE averaged over the ``iwae_k`` samples z ~ q(z|x) per image. Lower is better. (Run
    listings show the last epoch's test recon with one sampled z per image, so a VAE's two
    numbers differ slightly: the same quantity, two Monte-Carlo estimates.)
``recon_floor``
    Σ over pixels of the binary entropy H(x_i), averaged over test images: the Bernoulli
    cross-entropy's minimum for these grey images (0 only for black-and-white pixels).
``kl``, ``elbo``, ``iwae_nll``, ``kl_per_dim``, ``active_units`` (VAE; ``null`` for the AE)
    mean KL(q(z|x) ‖ p(z)) per image (nats); ELBO = −(recon + kl) per image (nats, a lower bound
    of the Bernoulli log p(x) score); importance-weighted estimate of −log p(x) (the same score)
    with ``iwae_k`` samples (Burda et al. 2016; ≤ −elbo); the mean KL of each latent dim (list);
    number of dims with Var_x(E[z_d | x]) > 0.01 (Burda et al. 2016).
``intervals``
    ``{metric: [low, high]}``: a 95% normal bootstrap interval, the value ± 1.96 times its standard
    deviation over ``bootstrap`` resamples (seeded), for each number above: over test images for the code, reconstruction and likelihood numbers, over the
    1,000 draws for the generation numbers, over neighbouring grid pairs for ``smoothness``.
    ``winner`` calls two models tied when their intervals overlap: a difference inside the noise
    earns no tick.

Bookkeeping keys: ``run``, ``kind``, ``dataset``, ``n_images``, ``latent_dim``, ``view``
(``latent``, ``pca`` or ``dims 0,1``), ``codes`` (``z`` for the AE; ``z ~ q(z|x)`` or ``mu``),
``iwae_k``, ``seed``, ``bootstrap``, ``classifier_accuracy`` (the judge's test accuracy), ``seconds``.

``CLAIMS`` lists each claim beside the metric that backs it; ``METRICS`` says which direction is
better and ``winner`` applies it (the dashboard lays these out as tables and links).
``code_stats`` is the cheap subset the captions need on every page view. The numbers themselves
are measured where their idea lives: ``codes`` (shape and 2-D geometry of the codes),
``generation`` (the judged draws), ``posterior`` (IWAE, the Bernoulli floor), ``collapse``
(active units), ``intervals`` (the margins). All randomness uses explicit generators.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from vae_core.analysis.claims import CLAIMS  # noqa: F401 (re-exported)
from vae_core.analysis.classifier import JudgedClassifier
from vae_core.analysis.codes import (RADIUS, ResampledGeometry, centring, code_span, codes_tensor,
                                     coverage, largest_gap, prior_kl, scale_error, standardise, view_basis)
from vae_core.analysis.collapse import active_units, check_codes, is_collapsed
from vae_core.analysis.generation import dataset_generation_tests, decoder_codes, generation_scores
from vae_core.analysis.intervals import BOOTSTRAP, bootstrap_interval, mean_interval, normal_interval
from vae_core.analysis.posterior import DEFAULT_IWAE_K, bernoulli_floor, iwae_nll_per_image
from vae_core.data import ImageDataset
from vae_core.losses import kl_per_dim, recon_per_image
from vae_core.models import LatentModel
from vae_core.text import N_

SMOOTH_STEPS = 41  # decoder grid per side over [-2, 2]: step 0.1

# metric -> (better direction, one-line explanation for the scorecard table)
METRICS: dict[str, tuple[str, str]] = {
    "centring": ("lower", N_("distance of the codes' mean from 0 (VAE: z ~ q(z|x))")),
    "scale_error": ("lower", N_("mean |std - 1| over latent dims (VAE: z ~ q(z|x))")),
    "prior_kl": ("lower", N_("KL of the codes' Gaussian fit from N(0, I), nats")),
    "coverage": ("higher", N_("share of the prior's 2-sigma disk's cells holding a code")),
    "coverage_standardised": ("higher", N_("the same share after standardising the codes (scale-free)")),
    "largest_gap": ("lower", N_("radius of the largest empty circle in the standardised codes' "
                                "2-sigma disk, in stds")),
    "smoothness": ("lower", N_("mean pixel change between neighbouring z (step 0.1 std) over the "
                               "codes' own 2-sigma box")),
    "prior_confident": ("higher", N_("share of decoded N(0, I) samples the judge labels with p >= 0.9, "
                                     "each class counted at most up to its share of the data "
                                     "(clean and diverse)")),
    "prior_confident_raw": ("higher", N_("the same share without the per-class cap (clean, any class)")),
    "prior_class_entropy": ("higher", N_("entropy of their predicted classes, nats (ln 10 = 2.30 is all)")),
    "recon": ("lower", N_("test Bernoulli cross-entropy -log p(x|z) per image, nats (grey pixels: "
                          "a score, not a normalised likelihood)")),
    "kl": ("lower", N_("KL(q(z|x) || p(z)) per image, nats (VAE only)")),
    "elbo": ("higher", N_("ELBO per image, nats, of the Bernoulli score (VAE only)")),
    "iwae_nll": ("lower", N_("importance-weighted estimate of the Bernoulli -log p(x) score, nats "
                             "(VAE only)")),
    "active_units": ("higher", N_("latent dims with Var_x(E[z_d|x]) > 0.01 (VAE only)")),
}
VIEWS = ("pca", "first")  # the 2-D view above latent 2; pca by default (see the docstring)
CODE_CHOICES = ("sampled", "mean")  # the VAE's shape codes: one z ~ q(z|x) per image, or mu


# --- the decoder's smoothness ---------------------------------------------------------------------

def _pair_diffs(model: LatentModel, basis: torch.Tensor, steps: int, radius: float,
                centre: torch.Tensor | None, scale: torch.Tensor | None) -> torch.Tensor:
    """Mean absolute pixel change of every neighbouring pair of the decoded grid (pairs,)."""
    v = basis.shape[1]
    axis = torch.linspace(-radius, radius, steps)
    coords = torch.stack(torch.meshgrid(*([axis] * v), indexing="ij"), -1).reshape(-1, v)
    if scale is not None:
        coords = coords * scale.to(coords.dtype)  # in units of the codes' std along each axis
    z = coords @ basis.T.to(coords.dtype)  # (steps^v, D)
    if centre is not None:
        z = z + centre.to(z.dtype)
    images = torch.sigmoid(model.decode(z)).flatten(1)  # (steps^v, pixels)
    grid = images.reshape(*([steps] * v), -1)
    return torch.cat([(grid.narrow(a, 1, steps - 1) - grid.narrow(a, 0, steps - 1)).abs().mean(-1).flatten()
                      for a in range(v)])


@torch.no_grad()
def smoothness(model: LatentModel, basis: torch.Tensor, steps: int = SMOOTH_STEPS,
               radius: float = RADIUS, centre: torch.Tensor | None = None,
               scale: torch.Tensor | None = None) -> dict[str, float]:
    """Mean and max pixel change between neighbouring cells of the decoded grid over the box
    [−radius, radius]^V, each axis stretched by ``scale`` (V,) and moved to ``centre`` (D,) when
    given: the scorecard passes the codes' own std and mean, so the step is 0.1 std."""
    d = _pair_diffs(model, basis, steps, radius, centre, scale)
    return {"mean": float(d.mean()), "max": float(d.max())}


def view_name(latent_dim: int, view: str) -> str:
    """The ``view`` key: ``latent`` (2-D or less: no projection), ``pca`` or ``dims 0,1``."""
    return "latent" if latent_dim <= 2 else ("pca" if view == "pca" else "dims 0,1")


# --- the scorecard ------------------------------------------------------------------------------

def _code_numbers(shape: np.ndarray, basis: np.ndarray) -> dict[str, float]:
    """The shape numbers of one set of codes (N, D) in the plane ``basis`` (D, V)."""
    t = torch.from_numpy(shape)
    view2d = shape @ basis
    return {"centring": centring(t), "scale_error": scale_error(t), "prior_kl": prior_kl(t),
            "coverage": coverage(view2d), "coverage_standardised": coverage(standardise(view2d)),
            "largest_gap": largest_gap(standardise(view2d))}


@torch.no_grad()
def scorecard(model: LatentModel, dataset: ImageDataset, judge: JudgedClassifier | torch.nn.Module,
              *, iwae_k: int = DEFAULT_IWAE_K, view: str = "pca", codes: str = "sampled",
              seed: int = 0, run: str = "", bootstrap: int = BOOTSTRAP) -> dict[str, Any]:
    """Every metric of the module docstring for one model on ``dataset.test_x``."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if codes not in CODE_CHOICES:
        raise ValueError(f"codes must be one of {CODE_CHOICES}, got {codes!r}")
    t0 = time.perf_counter()
    clf = judge.model if isinstance(judge, JudgedClassifier) else judge
    acc = judge.accuracy if isinstance(judge, JudgedClassifier) else None
    x = dataset.test_x
    mu, logvar = model.encode_all(x)
    if not bool(torch.isfinite(mu).all()) or (logvar is not None and not bool(torch.isfinite(logvar).all())):
        # Finite but huge weights (a hand-edited or hostile file) overflow: no metric means anything.
        raise ValueError(f"{run or 'this model'}: its codes of the test images are not finite "
                         "(the weights overflow), so no metric can be computed")
    # The VAE's shape numbers describe the codes its decoder sees (the aggregate posterior), the
    # same codes as the generation test's gap radius: one seeded z ~ q(z|x) per image.
    sampled = decoder_codes(mu, logvar, seed)
    shape_t = sampled if codes == "sampled" else mu
    basis = view_basis(shape_t, view)
    shape, basis_np = shape_t.double().numpy(), basis.double().numpy()
    out: dict[str, Any] = {
        "run": run, "kind": model.kind, "dataset": dataset.name, "n_images": len(x),
        "latent_dim": model.latent_dim, "view": view_name(model.latent_dim, view),
        "codes": "z" if logvar is None else ("z ~ q(z|x)" if codes == "sampled" else "mu"),
        "iwae_k": iwae_k if logvar is not None else None, "seed": seed, "bootstrap": bootstrap,
        "classifier_accuracy": acc, **_code_numbers(shape, basis_np),
    }
    intervals: dict[str, list[float] | None] = {}
    n = len(shape)
    rng = np.random.default_rng(seed)
    boot: list[dict[str, float]] = []
    if n >= 2 and bootstrap >= 2:
        geometry = ResampledGeometry(shape @ basis_np)
        for _ in range(bootstrap):
            idx = rng.integers(0, n, n)
            t = torch.from_numpy(shape[idx])
            boot.append({"centring": centring(t), "scale_error": scale_error(t),
                         "prior_kl": prior_kl(t), **geometry.numbers(idx)})
    for key in ("centring", "scale_error", "prior_kl", "coverage", "coverage_standardised",
                "largest_gap"):
        intervals[key] = normal_interval(out[key], [b[key] for b in boot]) if boot else None
    view2d = shape @ basis_np
    diffs = _pair_diffs(model, basis.float(), SMOOTH_STEPS, RADIUS,
                        torch.from_numpy(shape.mean(0)).float(),
                        torch.from_numpy(np.maximum(view2d.std(0), 1e-12)).float())
    out["smoothness"] = {"mean": float(diffs.mean()), "max": float(diffs.max())}
    intervals["smoothness"] = mean_interval(diffs.numpy(), bootstrap, seed)
    out["code_span"] = code_span(shape_t)
    # The same entry point as the Generate page, on the codes computed above.
    tests = dataset_generation_tests(model, dataset, clf, seed=seed, encoded=(mu, logvar))
    out.update(generation_scores(tests))
    for source, t in tests.items():
        for key, value in t.bootstrap_intervals(bootstrap, seed).items():
            intervals[key] = value
    floor = bernoulli_floor(x)
    out["recon_floor"] = float(floor.mean())
    if logvar is None:  # the AE's code is a point: recon is deterministic
        recon = recon_per_image(model.decode(mu), x).double()
        out.update({"recon": float(recon.mean()), "kl": None, "elbo": None,
                    "iwae_nll": None, "kl_per_dim": None, "active_units": None, "collapsed": False})
        intervals["recon"] = mean_interval(recon.numpy(), bootstrap, seed)
    else:
        nll, recon = iwae_nll_per_image(model, x, iwae_k, seed=seed + 1)
        kl_img = kl_per_dim(mu, logvar).double()  # (N, D)
        kld = kl_img.mean(0)  # (D,)
        kl, active = float(kld.sum()), active_units(mu)
        out.update({"recon": float(recon.mean()), "kl": kl, "elbo": -(float(recon.mean()) + kl),
                    "iwae_nll": float(nll.mean()), "kl_per_dim": [float(v) for v in kld],
                    "active_units": active, "collapsed": is_collapsed(active, kl)})
        intervals["recon"] = mean_interval(recon.numpy(), bootstrap, seed)
        intervals["kl"] = mean_interval(kl_img.sum(1).numpy(), bootstrap, seed)
        intervals["elbo"] = mean_interval(-(recon + kl_img.sum(1)).numpy(), bootstrap, seed)
        intervals["iwae_nll"] = mean_interval(nll.numpy(), bootstrap, seed)
        mu_np = mu.double().numpy()
        intervals["active_units"] = bootstrap_interval(
            lambda i: float(active_units(torch.from_numpy(mu_np[i]))), len(mu_np), bootstrap, seed)
    out["intervals"] = {k: _within_range(k, v) for k, v in intervals.items()}
    out["seconds"] = time.perf_counter() - t0
    return out


_SHARES = ("coverage", "coverage_standardised", "_confident", "_confident_raw", "_in_gaps")


def _within_range(key: str, interval: list[float] | None) -> list[float] | None:
    """A normal interval cut to the metric's range: ≥ 0 (all but the ELBO), ≤ 1 for shares."""
    if interval is None or key == "elbo":
        return interval
    lo, hi = max(0.0, interval[0]), interval[1]
    if key.endswith(_SHARES):
        hi = min(1.0, hi)
    return [lo, hi]


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in value):
        return float(value[0]), float(value[1])
    return None


def winner(metric: str, ae_value: Any, vae_value: Any, tol: float = 1e-9,
           ae_interval: Any = None, vae_interval: Any = None) -> str:
    """"VAE", "AE", "tie" or "" (not comparable) for one metric. With both 95% intervals given
    (the scorecard's ``intervals``), overlapping intervals are a tie: the difference is within
    the noise of the test images or draws, so neither model earns a tick."""
    if isinstance(ae_value, dict):
        ae_value = ae_value.get("mean")
    if isinstance(vae_value, dict):
        vae_value = vae_value.get("mean")
    if metric not in METRICS or ae_value is None or vae_value is None:
        return ""
    if not (math.isfinite(ae_value) and math.isfinite(vae_value)):
        return ""
    if abs(ae_value - vae_value) <= tol * max(1.0, abs(ae_value), abs(vae_value)):
        return "tie"
    a, v = _interval(ae_interval), _interval(vae_interval)
    if a is not None and v is not None and a[0] <= v[1] and v[0] <= a[1]:
        return "tie"
    lower = METRICS[metric][0] == "lower"
    return "VAE" if (vae_value < ae_value) == lower else "AE"


def claim_verdict(metric: str, ae_value: Any, vae_value: Any, vae_collapsed: bool,
                  ae_interval: Any = None, vae_interval: Any = None) -> str:
    """``winner`` for a claim, except that a collapsed VAE wins nothing: its "win" is returned as
    "collapsed". With the posterior collapsed the decoder ignores z, so the VAE's centred,
    prior-shaped, smooth latent numbers describe an unused space, not a learned one (see
    ``collapse.py``); the page should say so instead of ticking the VAE."""
    w = winner(metric, ae_value, vae_value, ae_interval=ae_interval, vae_interval=vae_interval)
    return "collapsed" if vae_collapsed and w == "VAE" else w


def code_stats(mu: np.ndarray | torch.Tensor,
               logvar: np.ndarray | torch.Tensor | None = None, seed: int = 0) -> dict[str, Any]:
    """The numbers the latent-space captions need, cheap enough for every page view: ``kind``
    ("ae" when ``logvar`` is None, else "vae"), ``latent_dim``, ``code_span`` (of the plotted
    codes: the AE's z, the VAE's μ), ``centring`` and ``scale_error`` of the codes the decoder sees
    (the AE's z; for the VAE one seeded z ~ q(z|x) per image, ``generation.decoder_codes``: the
    aggregate posterior, which is what should match N(0, I)), ``centring_mu`` and
    ``scale_error_mu`` (the VAE's means; equal to the above for an AE), ``collapsed``,
    ``active_units`` and ``kl`` (the last two None for an AE). Same definitions as the
    scorecard's keys at its default ``codes="sampled"``."""
    mu_t = codes_tensor(mu, torch.float32)
    lv_t = None if logvar is None else codes_tensor(logvar, torch.float32)
    check = check_codes(mu_t, lv_t)
    shape = decoder_codes(mu_t, lv_t, seed)
    return {"kind": "ae" if logvar is None else "vae", "latent_dim": int(mu_t.shape[1]),
            "code_span": code_span(mu_t), "codes": "z" if lv_t is None else "z ~ q(z|x)",
            "centring": centring(shape), "scale_error": scale_error(shape),
            "centring_mu": centring(mu_t), "scale_error_mu": scale_error(mu_t),
            "collapsed": check.collapsed, "active_units": check.active_units, "kl": check.kl}
