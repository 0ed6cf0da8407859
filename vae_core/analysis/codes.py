"""Where a model's codes lie: their extent and span, and whether a point sits near them or in a gap.

Codes are the test split's encodings (``mu`` for the VAE, ``z`` for the AE; the generation test
passes the VAE's sampled codes, ``generation.decoder_codes``), numpy or torch (N, D). The numbers here feed the "fit to the codes" decoder grid, the captions ("the AE's codes
span ±19, the VAE's ±2.6") and the generation test's near-codes/in-a-gap verdict per draw.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: a caption's span of stored codes needs no torch
    import torch

EXTENT_PERCENTILES = (0.5, 99.5)  # the robust box: one code in 200 may lie outside per side
GAP_QUANTILE = 0.95  # a draw is in a gap beyond the 95th percentile of code-to-code NN distances


def latent_axis_name(dim: int) -> str:
    """The one name of latent dim ``dim`` (0-based index) on every axis and caption: z1, z2, …"""
    return f"z{int(dim) + 1}"


def _as_numpy(codes: np.ndarray | torch.Tensor) -> np.ndarray:
    tensor = getattr(sys.modules.get("torch"), "Tensor", None)  # none before torch is imported
    if tensor is not None and isinstance(codes, tensor):
        codes = codes.detach().cpu().numpy()
    out = np.asarray(codes, dtype=np.float64)
    return out.reshape(len(out), -1)


def code_extent(codes: np.ndarray | torch.Tensor, robust: bool = True) -> np.ndarray:
    """(D, 2) per-dim [low, high] of the codes: the 0.5th-99.5th percentiles (``robust``), or the
    full bounding box (min, max). The "fit to the codes" decoder grid spans this box."""
    c = _as_numpy(codes)
    if len(c) == 0:
        return np.zeros((c.shape[1], 2))
    if robust:
        lo, hi = np.percentile(c, EXTENT_PERCENTILES, axis=0)
    else:
        lo, hi = c.min(0), c.max(0)
    return np.stack([lo, hi], axis=1)


def code_span(codes: np.ndarray | torch.Tensor, dims: tuple[int, ...] | None = None) -> float:
    """The half-width r of the smallest centred square [-r, r]^D holding the robust extent of the
    codes (on ``dims`` only if given): the "±r" of a caption. The prior's 2-sigma box is ±2."""
    ext = code_extent(codes, robust=True)
    if dims is not None:
        ext = ext[list(dims)]
    return float(np.abs(ext).max()) if ext.size else 0.0


def gap_radius(codes: np.ndarray | torch.Tensor, quantile: float = GAP_QUANTILE) -> float:
    """The ``quantile`` of each code's distance to its nearest other code (full latent space).

    A draw whose nearest code is farther than this lies farther from the data than 95% of the
    codes lie from their own neighbour: it is "in a gap". Draws from the codes' own distribution
    land there about 5% of the time, so that share is the baseline of a space with no gaps.
    """
    from scipy.spatial import cKDTree

    c = _as_numpy(codes)
    if len(c) < 2:
        return float("inf")
    dist, _ = cKDTree(c).query(c, k=2)
    return float(np.quantile(dist[:, 1], quantile))


def nearest_code_distance(points: np.ndarray | torch.Tensor,
                          codes: np.ndarray | torch.Tensor) -> np.ndarray:
    """(M,) distance of each point to its nearest code (full latent space)."""
    from scipy.spatial import cKDTree

    p, c = _as_numpy(points), _as_numpy(codes)
    if len(c) == 0:
        return np.full(len(p), np.inf)
    return cKDTree(c).query(p, k=1)[0]


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
    import torch

    from vae_core.analysis.collapse import check_codes
    from vae_core.analysis.generation import decoder_codes
    from vae_core.analysis.metrics import (centring, scale_error)  # here, not at the top: metrics imports codes

    mu_t = torch.as_tensor(_as_numpy(mu), dtype=torch.float32)
    lv_t = None if logvar is None else torch.as_tensor(_as_numpy(logvar), dtype=torch.float32)
    check = check_codes(mu_t, lv_t)
    shape = decoder_codes(mu_t, lv_t, seed)
    return {"kind": "ae" if logvar is None else "vae", "latent_dim": int(mu_t.shape[1]),
            "code_span": code_span(mu_t), "codes": "z" if lv_t is None else "z ~ q(z|x)",
            "centring": centring(shape), "scale_error": scale_error(shape),
            "centring_mu": centring(mu_t), "scale_error_mu": scale_error(mu_t),
            "collapsed": check.collapsed, "active_units": check.active_units, "kl": check.kl}
