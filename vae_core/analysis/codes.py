"""The shape of a model's codes: where they lie, how they compare with the prior N(0, I), and
how they fill the prior's 2-sigma disk.

Codes are the test split's encodings (``mu`` for the VAE, ``z`` for the AE; the scorecard and the
generation test pass the VAE's sampled codes, ``generation.decoder_codes``), numpy or torch
(N, D). Here: their extent and span (the "fit to the codes" decoder grid, the captions' "the AE's
codes span ±19, the VAE's ±2.6"), nearest-code distances (the generation test's in-a-gap verdict
per draw), their Gaussian fit and its distance from the prior (``centring``, ``scale_error``,
``prior_kl``), and the 2-D geometry the scorecard measures in one plane (``view_basis``,
``coverage``, ``largest_gap``). Definitions of the scorecard keys: ``scorecard``'s docstring.
Only numpy, torch and scipy: every other analysis module may import this one. torch is imported
where it computes: the cold Overview measures its stored codes' span without it (issue 17).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

EXTENT_PERCENTILES = (0.5, 99.5)  # the robust box: one code in 200 may lie outside per side
GAP_QUANTILE = 0.95  # a draw is in a gap beyond the 95th percentile of code-to-code NN distances
COV_JITTER = 1e-6  # added to a fitted covariance's diagonal, so a collapsed cloud stays finite
RADIUS = 2.0  # the prior's 2-sigma disk / box
COVERAGE_CELLS = 12  # grid cells per side over [-2, 2]: ~113 cells inside the disk
GAP_CENTRES = 101  # candidate centres per side for the largest empty circle


def latent_axis_name(dim: int) -> str:
    """The one name of latent dim ``dim`` (0-based index) on every axis and caption: z1, z2, …"""
    return f"z{int(dim) + 1}"


def codes_tensor(values: np.ndarray | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Codes as a CPU tensor (N, D) of ``dtype`` (default float64), from numpy or torch."""
    import torch

    dtype = torch.float64 if dtype is None else dtype
    t = values.detach().cpu() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    return t.to(dtype).reshape(len(t), -1)


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


# --- against the prior N(0, I) ---------------------------------------------------------------

def centring(codes: torch.Tensor) -> float:
    """‖mean of the codes‖."""
    return float(codes.double().mean(0).norm())


def scale_error(codes: torch.Tensor) -> float:
    """Mean over dims of |std_d − 1|."""
    return float((codes.double().std(0) - 1.0).abs().mean())


def gaussian_fit(codes: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean m̂ (D,) and sample covariance Σ̂ + ``COV_JITTER``·I (D, D) of the codes, float64:
    the Gaussian that ``prior_kl`` compares with N(0, I) and the generation test's ``fitted``
    source draws from."""
    c = codes_tensor(codes)
    mean = c.mean(0)
    centred = c - mean
    cov = centred.T @ centred / max(1, len(c) - 1) + COV_JITTER * c.new_ones(c.shape[1]).diag()
    return mean, cov


def prior_kl(codes: np.ndarray | torch.Tensor) -> float:
    """KL( N(m̂, Σ̂) ‖ N(0, I) ) in nats: 0.5 (tr Σ̂ + m̂ᵀm̂ − D − log det Σ̂)."""
    m, cov = gaussian_fit(codes)
    _, logdet = cov.slogdet()
    return float(0.5 * (cov.trace() + m @ m - len(m) - logdet))


def view_basis(codes: torch.Tensor, view: str = "first") -> torch.Tensor:
    """(D, V) orthonormal columns, V = min(D, 2), spanning the plane the 2-D metrics look at.

    ``first``: the first two latent dims; ``pca``: the codes' two principal directions.
    """
    d = codes.shape[1]
    v = min(d, 2)
    if view == "pca" and d > 2:
        c = codes.double() - codes.double().mean(0)
        import torch

        _, _, vh = torch.linalg.svd(c, full_matrices=False)
        return vh[:v].T.to(codes.dtype)
    if view not in ("first", "pca"):
        raise ValueError(f"view must be 'first' or 'pca', got {view!r}")
    return codes.new_zeros(d, v).fill_diagonal_(1.0)


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


class ResampledGeometry:
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


def standardise(points: np.ndarray) -> np.ndarray:
    """Points with mean 0 and unit std per axis (an axis with no spread is left centred)."""
    std = points.std(0)
    return (points - points.mean(0)) / np.where(std > 0, std, 1.0)

