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
better and ``winner`` applies it (the dashboard lays these out as tables and links). The beta-sweep helpers (``sweep_run_name``,
``sweep_groups``, ``sweep_points``) live here too. All randomness uses explicit generators.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch.distributions import Normal

from vae_core.analysis.claims import CLAIMS  # noqa: F401 (re-exported)
from vae_core.analysis.classifier import JudgedClassifier
from vae_core.analysis.codes import code_span
from vae_core.analysis.collapse import (ACTIVE_VAR, active_units, check_codes, is_collapsed)  # noqa: F401 (re-exported)
from vae_core.data import ImageDataset
from vae_core.analysis.generation import (GENERATION_SAMPLES, GenerationTest, class_shares,
                                          dataset_generation_tests, decoder_codes,
                                          generation_scores, judge_codes, sample_codes)
from vae_core.losses import kl_per_dim, log_joint, recon_per_image
from vae_core.models import LatentModel, reparameterize
from vae_core.text import N_
from vae_core.train import evaluate

RADIUS = 2.0  # the prior's 2-sigma disk / box
COVERAGE_CELLS = 12  # grid cells per side over [-2, 2]: ~113 cells inside the disk
GAP_CENTRES = 101  # candidate centres per side for the largest empty circle
SMOOTH_STEPS = 41  # decoder grid per side over [-2, 2]: step 0.1
PRIOR_SAMPLES = GENERATION_SAMPLES
CONFIDENT = 0.9
DEFAULT_IWAE_K = 25
COV_JITTER = 1e-6

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
BOOTSTRAP = 100  # resamples behind each interval
INTERVAL = 0.95


# --- code statistics ----------------------------------------------------------------------------

def centring(codes: torch.Tensor) -> float:
    """‖mean of the codes‖."""
    return float(codes.double().mean(0).norm())


def scale_error(codes: torch.Tensor) -> float:
    """Mean over dims of |std_d − 1|."""
    return float((codes.double().std(0) - 1.0).abs().mean())


def prior_kl(codes: torch.Tensor) -> float:
    """KL( N(m̂, Σ̂) ‖ N(0, I) ) in nats: 0.5 (tr Σ̂ + m̂ᵀm̂ − D − log det Σ̂)."""
    c = codes.double()
    d = c.shape[1]
    m = c.mean(0)
    centred = c - m
    cov = centred.T @ centred / max(1, len(c) - 1) + COV_JITTER * torch.eye(d, dtype=c.dtype)
    _, logdet = torch.linalg.slogdet(cov)
    return float(0.5 * (torch.trace(cov) + m @ m - d - logdet))


def view_basis(codes: torch.Tensor, view: str = "first") -> torch.Tensor:
    """(D, V) orthonormal columns, V = min(D, 2), spanning the plane the 2-D metrics look at.

    ``first``: the first two latent dims; ``pca``: the codes' two principal directions.
    """
    d = codes.shape[1]
    v = min(d, 2)
    if view == "pca" and d > 2:
        c = codes.double() - codes.double().mean(0)
        _, _, vh = torch.linalg.svd(c, full_matrices=False)
        return vh[:v].T.to(codes.dtype)
    if view not in ("first", "pca"):
        raise ValueError(f"view must be 'first' or 'pca', got {view!r}")
    return torch.eye(d, v, dtype=codes.dtype)


def _cell_centres(cells: int, dims: int, radius: float = RADIUS) -> np.ndarray:
    """Centres of a ``cells``-per-side grid over [-radius, radius]^dims that lie in the disk."""
    edges = np.linspace(-radius, radius, cells + 1)
    mids = (edges[:-1] + edges[1:]) / 2
    grid = np.stack(np.meshgrid(*([mids] * dims), indexing="ij"), -1).reshape(-1, dims)
    return grid[np.linalg.norm(grid, axis=1) <= radius]


def _cells(pts: np.ndarray, cells: int, radius: float) -> np.ndarray:
    """Flat grid-cell index of each point (N,), −1 outside the box [−radius, radius]^dims."""
    width = 2 * radius / cells
    idx = np.floor((pts + radius) / width).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < cells), axis=1)
    flat = np.ravel_multi_index(tuple(np.clip(idx, 0, cells - 1).T), (cells,) * pts.shape[1]) \
        if len(pts) else np.zeros(0, np.int64)
    return np.where(inside, flat, -1)


def _covered_share(point_cells: np.ndarray, centre_cells: np.ndarray, n_cells: int) -> float:
    occupied = np.zeros(n_cells + 1, bool)  # the last slot takes the points outside the box
    occupied[point_cells] = True
    return float(occupied[centre_cells].mean()) if len(centre_cells) else 0.0


def coverage(codes2d: torch.Tensor | np.ndarray, cells: int = COVERAGE_CELLS,
             radius: float = RADIUS) -> float:
    """Share of the disk's grid cells (centre inside the disk) that hold at least one code."""
    pts = np.asarray(codes2d, dtype=np.float64)
    dims = pts.shape[1]
    centres = _cell_centres(cells, dims, radius)
    return _covered_share(_cells(pts, cells, radius), _cells(centres, cells, radius), cells ** dims)


def _gap_grid(dims: int, radius: float = RADIUS, centres_per_side: int = GAP_CENTRES) -> np.ndarray:
    axis = np.linspace(-radius, radius, centres_per_side)
    grid = np.stack(np.meshgrid(*([axis] * dims), indexing="ij"), -1).reshape(-1, dims)
    return grid[np.linalg.norm(grid, axis=1) <= radius + 1e-12]


def largest_gap(codes2d: torch.Tensor | np.ndarray, radius: float = RADIUS,
                centres_per_side: int = GAP_CENTRES) -> float:
    """Radius of the largest code-free circle centred inside the disk (candidate-grid search)."""
    from scipy.spatial import cKDTree

    pts = np.asarray(codes2d, dtype=np.float64)
    if len(pts) == 0:
        return float("inf")
    dist, _ = cKDTree(pts).query(_gap_grid(pts.shape[1], radius, centres_per_side), k=1)
    return float(dist.max())


class _ResampledGeometry:
    """Coverage and largest gap of bootstrap resamples of one set of 2-D codes, without a new
    tree per resample: each candidate centre's ``K`` nearest codes are found once, and a
    resample's nearest code is the first of them it holds (a tree is built only in the rare case
    that it holds none). Standardised with the full set's mean and std, so the interval shows
    the noise of which codes were drawn."""

    K = 16

    def __init__(self, view2d: np.ndarray):
        from scipy.spatial import cKDTree

        dims = view2d.shape[1]
        std = view2d.std(0)
        self.std2d = (view2d - view2d.mean(0)) / np.where(std > 0, std, 1.0)
        centres = _cell_centres(COVERAGE_CELLS, dims)
        self.centre_cells = _cells(centres, COVERAGE_CELLS, RADIUS)
        self.raw_cells = _cells(view2d, COVERAGE_CELLS, RADIUS)
        self.std_cells = _cells(self.std2d, COVERAGE_CELLS, RADIUS)
        self.n_cells = COVERAGE_CELLS ** dims
        self.grid = _gap_grid(dims)
        k = min(self.K, len(view2d))
        dist, nn = cKDTree(self.std2d).query(self.grid, k=k)
        self.dist, self.nn = dist.reshape(len(self.grid), k), nn.reshape(len(self.grid), k)

    def numbers(self, idx: np.ndarray) -> dict[str, float]:
        present = np.zeros(len(self.std2d), bool)
        present[idx] = True
        held = present[self.nn]  # (G, K)
        if held.any(1).all():
            gap = float(self.dist[np.arange(len(self.grid)), held.argmax(1)].max())
        else:
            gap = largest_gap(self.std2d[present])
        return {"coverage": _covered_share(self.raw_cells[idx], self.centre_cells, self.n_cells),
                "coverage_standardised": _covered_share(self.std_cells[idx], self.centre_cells,
                                                        self.n_cells),
                "largest_gap": gap}


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


@torch.no_grad()
def prior_confidence(model: LatentModel, judge: torch.nn.Module, n: int = PRIOR_SAMPLES,
                     seed: int = 0, threshold: float = CONFIDENT,
                     class_freq: torch.Tensor | None = None) -> dict[str, float]:
    """Decode n z ~ N(0, I) and judge them (the ``prior`` draws of ``generation.py``).

    ``prior_confident``: share labelled with p ≥ threshold, each class counted at most up to its
    share of the data (``class_freq``; uniform if None), so 1.0 means "every sample recognisable
    and the classes in the data's proportions". ``prior_confident_raw``: the plain share.
    ``prior_class_entropy``: entropy (nats) of the predicted-class histogram.
    """
    z = sample_codes("prior", torch.zeros((1, model.latent_dim)), n, seed)
    confidence, label, k = judge_codes(model, judge, z)
    t = GenerationTest("prior", z.numpy(), confidence, label, np.zeros(n), math.inf, k,
                       class_shares(class_freq, k), threshold)
    return {"prior_confident": t.confident_capped, "prior_confident_raw": t.confident_raw,
            "prior_class_entropy": t.class_entropy}


def log_weights(model: LatentModel, x: torch.Tensor, k: int, gen: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x|z) + log p(z) − log q(z|x) and −log p(x|z) for k samples z ~ q(z|x): (k, B) each."""
    mu, logvar = model.encode(x)
    z = reparameterize(mu.expand(k, *mu.shape), logvar.expand(k, *logvar.shape), gen)  # (k, B, D)
    log_pxz, recon = log_joint(model, x, z)
    log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    return log_pxz - log_q, recon


@torch.no_grad()
def iwae_nll_per_image(model: LatentModel, x: torch.Tensor, k: int = DEFAULT_IWAE_K,
                       seed: int = 0, max_decodes: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """(−log p(x) IWAE estimate (N,), mean recon over the k samples (N,)), in nats."""
    gen = torch.Generator().manual_seed(seed)
    chunk = max(1, max_decodes // k)
    nll, rec = [], []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        # For one image and huge k, split k itself so memory stays bounded.
        lw_parts, rec_parts = [], []
        per = max(1, max_decodes // len(xb))
        for j in range(0, k, per):
            lw, r = log_weights(model, xb, min(per, k - j), gen)
            lw_parts.append(lw)
            rec_parts.append(r)
        lw, r = torch.cat(lw_parts), torch.cat(rec_parts)
        nll.append(-(torch.logsumexp(lw.double(), 0) - math.log(k)))
        rec.append(r.double().mean(0))
    return torch.cat(nll), torch.cat(rec)


# --- margins --------------------------------------------------------------------------------------

def normal_interval(value: float, replicates: Any, level: float = INTERVAL) -> list[float] | None:
    """[value − z·sd, value + z·sd]: the normal bootstrap interval, sd the standard deviation of
    the statistic over resamples (z = 1.96 for 95%). Centred on the value itself: a percentile
    interval would be shifted for coverage and gaps, which a resample with repeated codes (about
    63% distinct) biases low and high."""
    from statistics import NormalDist

    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 2 or not math.isfinite(value):
        return None
    half = NormalDist().inv_cdf(0.5 + level / 2) * float(r.std(ddof=1))
    return [float(value - half), float(value + half)]


def bootstrap_interval(stat: Callable[[np.ndarray], float], n: int, reps: int = BOOTSTRAP,
                       seed: int = 0, level: float = INTERVAL) -> list[float] | None:
    """``normal_interval`` of ``stat(idx)`` over ``reps`` resamples idx of range(n) with
    replacement (seeded), around ``stat`` of all n; None when there is nothing to resample."""
    if n < 2 or reps < 2:
        return None
    rng = np.random.default_rng(seed)
    return normal_interval(stat(np.arange(n)), [stat(rng.integers(0, n, n)) for _ in range(reps)],
                           level)


def _mean_interval(values: torch.Tensor | np.ndarray, reps: int, seed: int) -> list[float] | None:
    v = np.asarray(values, dtype=np.float64).ravel()
    return bootstrap_interval(lambda i: float(v[i].mean()), len(v), reps, seed)


def standardise(points: np.ndarray) -> np.ndarray:
    """Points with mean 0 and unit std per axis (an axis with no spread is left centred)."""
    std = points.std(0)
    return (points - points.mean(0)) / np.where(std > 0, std, 1.0)


def bernoulli_floor(x: torch.Tensor) -> torch.Tensor:
    """Σ over pixels of the binary entropy H(x_i) per image (N,), nats: the least Bernoulli
    cross-entropy any decoder can reach on grey-level images (0 for black-and-white ones)."""
    p = x.double().flatten(1).clamp(1e-12, 1 - 1e-12)
    return -(p * p.log() + (1 - p) * (1 - p).log()).sum(1)


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
        geometry = _ResampledGeometry(shape @ basis_np)
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
    intervals["smoothness"] = _mean_interval(diffs.numpy(), bootstrap, seed)
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
        intervals["recon"] = _mean_interval(recon.numpy(), bootstrap, seed)
    else:
        nll, recon = iwae_nll_per_image(model, x, iwae_k, seed=seed + 1)
        kl_img = kl_per_dim(mu, logvar).double()  # (N, D)
        kld = kl_img.mean(0)  # (D,)
        kl, active = float(kld.sum()), active_units(mu)
        out.update({"recon": float(recon.mean()), "kl": kl, "elbo": -(float(recon.mean()) + kl),
                    "iwae_nll": float(nll.mean()), "kl_per_dim": [float(v) for v in kld],
                    "active_units": active, "collapsed": is_collapsed(active, kl)})
        intervals["recon"] = _mean_interval(recon.numpy(), bootstrap, seed)
        intervals["kl"] = _mean_interval(kl_img.sum(1).numpy(), bootstrap, seed)
        intervals["elbo"] = _mean_interval(-(recon + kl_img.sum(1)).numpy(), bootstrap, seed)
        intervals["iwae_nll"] = _mean_interval(nll.numpy(), bootstrap, seed)
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


# --- beta sweeps --------------------------------------------------------------------------------

_SWEEP_SUFFIX = re.compile(r"-b([0-9][0-9.e+-]*)$")


def sweep_run_name(sweep: str, beta: float) -> str:
    """NAME-b<beta>, e.g. ``sweep1-b0.25``; the run's ``group`` is the sweep id NAME."""
    return f"{sweep}-b{beta:g}"


def sweep_groups(infos: Iterable[Any]) -> dict[str, list[Any]]:
    """Sweep id -> its usable VAE runs (same ``group``, name ``<group>-b<beta>``), sorted by beta."""
    groups: dict[str, list[Any]] = {}
    for r in infos:
        if not getattr(r, "usable", True) or r.kind != "vae" or not r.group:
            continue
        if r.name.startswith(f"{r.group}-b") and _SWEEP_SUFFIX.search(r.name):
            groups.setdefault(r.group, []).append(r)
    return {k: sorted(v, key=lambda r: (r.beta if r.beta is not None else 0.0, r.name))
            for k, v in sorted(groups.items())}


@dataclass
class SweepPoint:
    name: str
    beta: float
    rate: float  # test KL per image, nats
    distortion: float  # test recon per image, nats
    active_units: int
    latent_dim: int
    kl_warmup_epochs: int
    collapsed: bool  # collapse.is_collapsed: no active unit or KL < 0.1 nat; the decoder ignores z


@torch.no_grad()
def sweep_point(name: str, model: LatentModel, beta: float, kl_warmup_epochs: int,
                dataset: ImageDataset, seed: int = 0) -> SweepPoint:
    """Rate and distortion (one seeded z per test image) and active units of one sweep run."""
    test = evaluate(model, dataset.test_x, seed=seed)  # the training loop's own test numbers
    au = active_units(model.encode_all(dataset.test_x)[0])
    return SweepPoint(name, float(beta), test["kl"], test["recon"], au, model.latent_dim,
                      int(kl_warmup_epochs), is_collapsed(au, test["kl"]))
