"""The scorecard: numbers that back each teaching claim of the AE-vs-VAE story, on the test split.

``scorecard(model, dataset, judge)`` returns a flat JSON-ready dict; ``python -m vae_core evaluate
RUN --json`` prints it. Its keys are part of the CLI's contract:

``centring``
    ‖mean of the codes‖, codes = ``mu`` for the VAE and ``z`` for the AE. Lower is better (0 = on
    the prior's centre).
``scale_error``
    mean over latent dims of |std_d − 1| (sample std of the codes). Lower is better.
``prior_kl``
    KL( N(m̂, Σ̂) ‖ N(0, I) ) in nats, with m̂, Σ̂ the codes' mean and covariance
    (Σ̂ + 1e-6·I so a collapsed cloud stays finite). Lower is better.
``coverage``
    share of the prior's 2-sigma disk that holds at least one code: the disk is tiled by the cells
    of a 12×12 grid over [−2, 2]² whose centres lie inside it (radius 2). Latent 2: the codes
    themselves; above 2: their 2-D view (``view``: the first two dims, or the top-2 PCA plane);
    latent 1: 12 intervals of [−2, 2]. Higher is better.
``largest_gap``
    radius of the largest circle, centred inside the 2-sigma disk (101×101 candidate centres),
    holding no code (same 2-D view). Lower is better.
``smoothness``
    ``{"mean": …, "max": …}``: the decoder is evaluated on a 41×41 grid over the 2-sigma box
    [−2, 2]² (step 0.1, the "(−2, 2) vs (−2.1, 2.1)" claim; in the view's plane above latent 2);
    for each pair of horizontally or vertically neighbouring cells, the mean absolute pixel change
    (pixels in [0, 1]); mean and max over all pairs. Lower is smoother.
``prior_confident``
    share of 1,000 decoded z ~ N(0, I) (seeded) that the judge classifier (``classifier.py``)
    labels with probability ≥ 0.9, each class counted at most up to its share of the test split
    (so a decoder that draws crisp 7s only cannot score high: 1.0 = every sample recognisable and
    the classes in the data's proportions). Higher is better.
``prior_confident_raw``
    the same share without the per-class cap.
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
    test reconstruction, −log p(x|z) per image in nats (Bernoulli pixels, ``losses.recon_per_image``);
    for the VAE averaged over the ``iwae_k`` samples z ~ q(z|x) per image. Lower is better. (Run
    listings show the last epoch's test recon with one sampled z per image, so a VAE's two
    numbers differ slightly: the same quantity, two Monte-Carlo estimates.)
``kl``, ``elbo``, ``iwae_nll``, ``kl_per_dim``, ``active_units`` (VAE; ``null`` for the AE)
    mean KL(q(z|x) ‖ p(z)) per image (nats); ELBO = −(recon + kl) per image (nats, a lower bound
    of log p(x)); importance-weighted estimate of −log p(x) with ``iwae_k`` samples (Burda et al.
    2016; ≤ −elbo); the mean KL of each latent dim (list); number of dims with
    Var_x(E[z_d | x]) > 0.01 (Burda et al. 2016).

Bookkeeping keys: ``run``, ``kind``, ``dataset``, ``n_images``, ``latent_dim``, ``view``,
``iwae_k``, ``seed``, ``classifier_accuracy`` (the judge's test accuracy), ``seconds``.

``CLAIMS`` lists each claim beside the metric that backs it; ``METRICS`` says which direction is
better and ``winner`` applies it (the dashboard lays these out as tables and links). The beta-sweep helpers (``sweep_run_name``,
``sweep_groups``, ``sweep_points``) live here too. All randomness uses explicit generators.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch
from torch.distributions import Normal

from .classifier import JudgedClassifier
from .codes import code_span
from .collapse import ACTIVE_VAR, active_units, check_codes, is_collapsed  # noqa: F401 (re-exported)
from .data import ImageDataset
from .generation import (GENERATION_SAMPLES, GenerationTest, class_shares,
                         dataset_generation_tests, generation_scores, judge_codes, sample_codes)
from .losses import kl_per_dim, log_joint, recon_per_image
from .models import LatentModel, reparameterize
from .text import N_
from .train import evaluate

RADIUS = 2.0  # the prior's 2-sigma disk / box
COVERAGE_CELLS = 12  # grid cells per side over [-2, 2]: ~113 cells inside the disk
GAP_CENTRES = 101  # candidate centres per side for the largest empty circle
SMOOTH_STEPS = 41  # decoder grid per side over [-2, 2]: step 0.1
PRIOR_SAMPLES = GENERATION_SAMPLES
CONFIDENT = 0.9
DEFAULT_IWAE_K = 25
COV_JITTER = 1e-6

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
    {"claim": N_("The holes between AE codes are larger than the VAE's"),
     "metric": "largest_gap"},
    {"claim": N_("Nearby points decode to similar images: z = (-2, 2) looks like (-2.1, 2.1)"),
     "metric": "smoothness"},
    {"claim": N_("Decoding z ~ N(0, I) gives recognisable images of many classes from a VAE; an "
                 "AE's draws reach only the classes near 0"),
     "metric": "prior_confident"},
    {"claim": N_("Prior samples cover all classes, not a few"),
     "metric": "prior_class_entropy"},
    {"claim": N_("The AE reconstructs a little better: the VAE pays for its regular space"),
     "metric": "recon"},
    {"claim": N_("The KL term measures how far each q(z|x) is from the prior"),
     "metric": "kl"},
    {"claim": N_("The ELBO is a lower bound of log p(x); the gap is KL(q(z|x) || p(z|x))"),
     "metric": "iwae_nll"},
    {"claim": N_("Too large a beta collapses the posterior: no active latent units"),
     "metric": "active_units"},
]

# metric -> (better direction, one-line explanation for the scorecard table)
METRICS: dict[str, tuple[str, str]] = {
    "centring": ("lower", N_("distance of the codes' mean from 0")),
    "scale_error": ("lower", N_("mean |std - 1| over latent dims")),
    "prior_kl": ("lower", N_("KL of the codes' Gaussian fit from N(0, I), nats")),
    "coverage": ("higher", N_("share of the 2-sigma disk's cells holding a code")),
    "largest_gap": ("lower", N_("radius of the largest empty circle inside the 2-sigma disk")),
    "smoothness": ("lower", N_("mean pixel change between neighbouring z (step 0.1) in the 2-sigma box")),
    "prior_confident": ("higher", N_("share of decoded N(0, I) samples the judge labels with p >= 0.9")),
    "prior_class_entropy": ("higher", N_("entropy of their predicted classes, nats (ln 10 = 2.30 is all)")),
    "recon": ("lower", N_("test -log p(x|z) per image, nats")),
    "kl": ("lower", N_("KL(q(z|x) || p(z)) per image, nats (VAE only)")),
    "elbo": ("higher", N_("ELBO per image, nats (VAE only)")),
    "iwae_nll": ("lower", N_("importance-weighted estimate of -log p(x), nats (VAE only)")),
    "active_units": ("higher", N_("latent dims with Var_x(E[z_d|x]) > 0.01 (VAE only)")),
}


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


def coverage(codes2d: torch.Tensor | np.ndarray, cells: int = COVERAGE_CELLS,
             radius: float = RADIUS) -> float:
    """Share of the disk's grid cells (centre inside the disk) that hold at least one code."""
    pts = np.asarray(codes2d, dtype=np.float64)
    dims = pts.shape[1]
    centres = _cell_centres(cells, dims, radius)
    width = 2 * radius / cells
    idx = np.floor((pts + radius) / width).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < cells), axis=1)
    occupied = {tuple(r) for r in idx[inside]}
    centre_idx = np.floor((centres + radius) / width).astype(np.int64)
    hit = sum(tuple(r) in occupied for r in centre_idx)
    return hit / max(1, len(centres))


def largest_gap(codes2d: torch.Tensor | np.ndarray, radius: float = RADIUS,
                centres_per_side: int = GAP_CENTRES) -> float:
    """Radius of the largest code-free circle centred inside the disk (candidate-grid search)."""
    from scipy.spatial import cKDTree

    pts = np.asarray(codes2d, dtype=np.float64)
    dims = pts.shape[1]
    axis = np.linspace(-radius, radius, centres_per_side)
    grid = np.stack(np.meshgrid(*([axis] * dims), indexing="ij"), -1).reshape(-1, dims)
    grid = grid[np.linalg.norm(grid, axis=1) <= radius + 1e-12]
    if len(pts) == 0:
        return float("inf")
    dist, _ = cKDTree(pts).query(grid, k=1)
    return float(dist.max())


@torch.no_grad()
def smoothness(model: LatentModel, basis: torch.Tensor, steps: int = SMOOTH_STEPS,
               radius: float = RADIUS) -> dict[str, float]:
    """Mean and max pixel change between neighbouring cells of the decoded grid over the box."""
    v = basis.shape[1]
    axis = torch.linspace(-radius, radius, steps)
    coords = torch.stack(torch.meshgrid(*([axis] * v), indexing="ij"), -1).reshape(-1, v)
    z = coords @ basis.T.to(coords.dtype)  # (steps^v, D)
    images = torch.sigmoid(model.decode(z)).flatten(1)  # (steps^v, pixels)
    grid = images.reshape(*([steps] * v), -1)
    diffs = [(grid.narrow(a, 1, steps - 1) - grid.narrow(a, 0, steps - 1)).abs().mean(-1).flatten()
             for a in range(v)]
    d = torch.cat(diffs)
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


# --- the scorecard ------------------------------------------------------------------------------

@torch.no_grad()
def scorecard(model: LatentModel, dataset: ImageDataset, judge: JudgedClassifier | torch.nn.Module,
              *, iwae_k: int = DEFAULT_IWAE_K, view: str = "first", seed: int = 0,
              run: str = "") -> dict[str, Any]:
    """Every metric of the module docstring for one model on ``dataset.test_x``."""
    t0 = time.perf_counter()
    clf = judge.model if isinstance(judge, JudgedClassifier) else judge
    acc = judge.accuracy if isinstance(judge, JudgedClassifier) else None
    x = dataset.test_x
    mu, logvar = model.encode_all(x)
    if not bool(torch.isfinite(mu).all()) or (logvar is not None and not bool(torch.isfinite(logvar).all())):
        # Finite but huge weights (a hand-edited or hostile file) overflow: no metric means anything.
        raise ValueError(f"{run or 'this model'}: its codes of the test images are not finite "
                         "(the weights overflow), so no metric can be computed")
    basis = view_basis(mu, view)
    view2d = (mu @ basis).numpy()
    out: dict[str, Any] = {
        "run": run, "kind": model.kind, "dataset": dataset.name, "n_images": len(x),
        "latent_dim": model.latent_dim,
        "view": "latent" if model.latent_dim <= 2 else ("pca" if view == "pca" else "dims 0,1"),
        "iwae_k": iwae_k if logvar is not None else None, "seed": seed,
        "classifier_accuracy": acc,
        "centring": centring(mu), "scale_error": scale_error(mu), "prior_kl": prior_kl(mu),
        "coverage": coverage(view2d), "largest_gap": largest_gap(view2d),
        "smoothness": smoothness(model, basis),
    }
    out["code_span"] = code_span(mu)
    # The same entry point as the Generate page, on the codes computed above.
    out.update(generation_scores(dataset_generation_tests(model, dataset, clf, seed=seed,
                                                          encoded=(mu, logvar))))
    if logvar is None:  # the AE's code is a point: recon is deterministic
        out.update({"recon": evaluate(model, x)["recon"], "kl": None, "elbo": None,
                    "iwae_nll": None, "kl_per_dim": None, "active_units": None, "collapsed": False})
    else:
        nll, recon = iwae_nll_per_image(model, x, iwae_k, seed=seed + 1)
        kld = kl_per_dim(mu, logvar).double().mean(0)  # (D,)
        kl, active = float(kld.sum()), active_units(mu)
        out.update({"recon": float(recon.mean()), "kl": kl, "elbo": -(float(recon.mean()) + kl),
                    "iwae_nll": float(nll.mean()), "kl_per_dim": [float(v) for v in kld],
                    "active_units": active, "collapsed": is_collapsed(active, kl)})
    out["seconds"] = time.perf_counter() - t0
    return out


def winner(metric: str, ae_value: Any, vae_value: Any, tol: float = 1e-9) -> str:
    """"VAE", "AE", "tie" or "" (not comparable) for one metric."""
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
    lower = METRICS[metric][0] == "lower"
    return "VAE" if (vae_value < ae_value) == lower else "AE"


def claim_verdict(metric: str, ae_value: Any, vae_value: Any, vae_collapsed: bool) -> str:
    """``winner`` for a claim, except that a collapsed VAE wins nothing: its "win" is returned as
    "collapsed". With the posterior collapsed the decoder ignores z, so the VAE's centred,
    prior-shaped, smooth latent numbers describe an unused space, not a learned one (see
    ``collapse.py``); the page should say so instead of ticking the VAE."""
    w = winner(metric, ae_value, vae_value)
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
