"""Latent-space tools behind the exploration views: encode, decode, grids of codes, projections
to a plane, posterior ellipses, the reparameterization demo and a Monte-Carlo KL. Plain torch +
numpy; a notebook can use them as they are.

Models passed in are shared between sessions (cached): every function here runs them under
``torch.inference_mode`` and never changes them. Randomness always comes from an explicit
``torch.Generator`` because global seeds are shared by every session of the server process.
Latent-space arrays are numpy (N, D); images come back as numpy (N, H, W) floats in [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from vae_core.analysis.codes import latent_axis_name
from vae_core.text import Translate, no_translation

if TYPE_CHECKING:  # torch is imported by the functions that compute: projections need none
    import torch

    from vae_core.models import LatentModel


# --- encode / decode ---------------------------------------------------------------------------

def encode_dataset(model: LatentModel, x: torch.Tensor,
                   batch: int = 2048) -> tuple[np.ndarray, np.ndarray | None]:
    """``model.encode_all`` as float32 numpy for the figures: ``(mu, logvar)`` (N, D); ``logvar``
    is None for the AutoEncoder (its code is a point, mu = z)."""
    mu, logvar = model.encode_all(x, batch)
    return mu.numpy().astype(np.float32), (None if logvar is None else
                                           logvar.numpy().astype(np.float32))


def decode_images(model: LatentModel, z: np.ndarray | torch.Tensor, batch: int = 4096) -> np.ndarray:
    """Decoded images for codes ``z`` (N, D): sigmoid of the logits, numpy (N, H, W) for one
    channel (N, H, W, C for more)."""
    import torch

    z_t = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, model.latent_dim)
    outs: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(z_t), batch):
            outs.append(torch.sigmoid(model.decode(z_t[start:start + batch])))
    c, h, w = model.config.input_shape
    if not outs:
        return np.zeros((0, h, w) if c == 1 else (0, h, w, c), np.float32)
    images = torch.cat(outs)  # (N, C, H, W)
    images = images[:, 0] if c == 1 else images.permute(0, 2, 3, 1)
    return images.numpy()


# --- codes to draw or decode -------------------------------------------------------------------

def grid_axis(n: int, r: float | None = None, quantiles: bool = False,
              p_edge: float = 0.05) -> np.ndarray:
    """n values along one latent axis, ascending: evenly spaced in [-r, r], or Normal quantiles
    ``norm.ppf(linspace(p_edge, 1 - p_edge, n))`` as in the Keras VAE example, so each cell
    covers an equal share of prior mass."""
    import torch

    if quantiles:
        p = torch.linspace(p_edge, 1.0 - p_edge, n, dtype=torch.float64)
        return torch.special.ndtri(p).numpy()
    if r is None or r <= 0:
        raise ValueError("grid_axis needs r > 0 or quantiles=True")
    return np.linspace(-r, r, n)


def grid_codes(n: int, latent_dim: int, *, r: float | None = None, quantiles: bool = False,
               dims: Sequence[int] = (0, 1), base_z: np.ndarray | None = None) -> np.ndarray:
    """Codes (n*n, D) for an n x n decoder grid over latent dims ``dims`` (x, y); the other dims
    are held at ``base_z`` (default 0). Row-major with the top row at the largest y, so the tiled
    images sit like the points of a scatter plot. With one dim (latent_dim 1) it is a strip (n, D).
    """
    axis = grid_axis(n, r, quantiles)
    base = np.zeros(latent_dim) if base_z is None else np.asarray(base_z, dtype=np.float64)
    if len(dims) == 1 or latent_dim == 1:
        codes = np.tile(base, (n, 1))
        codes[:, dims[0]] = axis
        return codes.astype(np.float32)
    dx, dy = int(dims[0]), int(dims[1])
    if dx == dy:
        raise ValueError("the two grid dims must differ")
    ys, xs = np.meshgrid(axis[::-1], axis, indexing="ij")  # (n, n): row i has y = axis[n-1-i]
    codes = np.tile(base, (n * n, 1))
    codes[:, dx] = xs.ravel()
    codes[:, dy] = ys.ravel()
    return codes.astype(np.float32)


def sample_prior(n: int, latent_dim: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """n draws of z ~ N(0, temperature^2 I), reproducible by ``seed``."""
    import torch

    g = torch.Generator().manual_seed(int(seed))
    return (temperature * torch.randn(n, latent_dim, generator=g)).numpy()


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """A straight path of ``steps`` codes from z0 to z1, both ends included: (steps, D)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - t) * np.asarray(z0, np.float64) + t * np.asarray(z1, np.float64)).astype(np.float32)


def subset_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """A fixed random subset of k of n indices (sorted), e.g. the points that get ellipses."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[: min(k, n)].sort().values.numpy()


def first_of_class(labels: np.ndarray | torch.Tensor, label: int) -> int | None:
    """Index of the first test image of a class, None if the class is absent."""
    hits = np.flatnonzero(np.asarray(labels) == label)
    return int(hits[0]) if len(hits) else None


# --- projections to the plotted plane ----------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A linear map from latent space to the plotted plane, p = (z - mean) @ components.T.

    Rows of ``components`` are orthonormal, so the prior N(0, I) maps to N(prior_center, I):
    its 1/2/3-sigma circles stay circles, only shifted by the centring.
    """

    components: np.ndarray  # (k, D), k = 1 or 2
    mean: np.ndarray  # (D,)
    axis_titles: tuple[str, ...]
    dims: tuple[int, ...] | None = None  # the latent dims shown as they are; None for PCA

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return ((np.asarray(z, np.float64) - self.mean) @ self.components.T).astype(np.float32)

    @property
    def prior_center(self) -> np.ndarray:
        return -self.components @ self.mean

    def covariances(self, logvar: np.ndarray) -> np.ndarray:
        """Projected covariances (N, k, k) of diagonal Normals with log variances (N, D)."""
        var = np.exp(np.asarray(logvar, np.float64))
        return np.einsum("kd,nd,ld->nkl", self.components, var, self.components)


def dims_projection(latent_dim: int, dims: Sequence[int] = (0, 1)) -> Projection:
    """Show latent dims ``dims`` as they are (one dim when latent_dim is 1)."""
    dims = tuple(int(d) for d in dims)[: min(2, latent_dim)]
    if any(not 0 <= d < latent_dim for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"dims {dims} do not fit a {latent_dim}-d latent space")
    return Projection(np.eye(latent_dim)[list(dims)], np.zeros(latent_dim),
                      tuple(latent_axis_name(d) for d in dims), dims)


def pca_2d(codes: np.ndarray, gettext: Translate = no_translation) -> Projection:
    """The plane of the two largest principal axes of ``codes`` (N, D), fitted by SVD.

    Signs are fixed (largest loading positive) so the picture does not flip between reruns.
    """
    x = np.asarray(codes, np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k].copy()
    for row in comps:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    var = s[:k] ** 2 / max(len(x) - 1, 1)
    share = var / max((s ** 2).sum() / max(len(x) - 1, 1), 1e-12)
    return Projection(comps, mean, tuple(gettext("PC{n} ({share:.0%} of the variance)").format(
        n=i + 1, share=share[i]) for i in range(k)))


def plane_coords(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """Projected points (N, k) as (N, 2) for a scatter: a 1-d view gets a random vertical jitter
    (it carries no meaning; it only keeps points from hiding each other)."""
    points = np.asarray(points, np.float32)
    if points.shape[1] == 2:
        return points
    import torch

    g = torch.Generator().manual_seed(seed)
    jitter = (torch.rand(len(points), generator=g) - 0.5).numpy()
    return np.column_stack([points[:, 0], jitter]).astype(np.float32)


def shared_range(*coords: np.ndarray, prior_sigmas: float = 3.0,
                 prior_centers: Sequence[Sequence[float]] = ((0.0, 0.0),),
                 margin: float = 0.05) -> tuple[float, float]:
    """One (lo, hi) for both axes of every panel: covers all points and each panel's prior
    ``prior_sigmas`` circle, so AE and VAE panels are drawn at the same scale."""
    centers = np.concatenate([np.ravel(np.asarray(c, np.float64)) for c in prior_centers])
    lo = float(centers.min()) - prior_sigmas
    hi = float(centers.max()) + prior_sigmas
    for c in coords:
        c = np.asarray(c, np.float64)
        c = c[np.isfinite(c).all(axis=1)] if c.ndim == 2 else c[np.isfinite(c)]
        if c.size:
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


def ellipse_outlines(centers: np.ndarray, covs: np.ndarray, n_sigma: float = 2.0,
                     n_points: int = 40) -> np.ndarray:
    """Outlines (M, n_points, 2) of the n-sigma ellipses of 2-d Normals (centers (M, 2),
    covariances (M, 2, 2)): the unit circle stretched by sqrt(eigenvalues) along the eigenvectors."""
    centers = np.asarray(centers, np.float64).reshape(-1, 2)
    evals, evecs = np.linalg.eigh(np.asarray(covs, np.float64).reshape(-1, 2, 2))
    t = np.linspace(0, 2 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)  # (P, 2)
    scale = n_sigma * np.sqrt(np.clip(evals, 0, None))  # (M, 2)
    return centers[:, None, :] + np.einsum("pj,mj,mij->mpi", circle, scale, evecs)


def posterior_ellipses(mu: np.ndarray, logvar: np.ndarray, projection: Projection,
                       n_sigma: float = 2.0) -> np.ndarray:
    """The n-sigma ellipses of q(z|x) = N(mu, diag(exp(logvar))) in the plotted plane (M, P, 2)."""
    return ellipse_outlines(projection(mu), projection.covariances(logvar), n_sigma)


# --- the reparameterization trick and the KL ---------------------------------------------------

@dataclass(frozen=True)
class ReparamDemo:
    """n draws z = mu + sigma * eps and the gradients autograd finds for each draw."""

    eps: np.ndarray  # (n,)
    z: np.ndarray  # (n,)
    dz_dmu: np.ndarray  # (n,) all exactly 1
    dz_dsigma: np.ndarray  # (n,) exactly eps: the noise is an input, not a function of sigma


def reparam_demo(mu: float, sigma: float, n: int, seed: int = 0) -> ReparamDemo:
    """Sample z = mu + sigma * eps (eps ~ N(0, 1)) and differentiate each z by autograd.

    mu and sigma are repeated as leaf tensors, one copy per draw, so ``z.sum().backward()``
    leaves each draw's own derivative in ``.grad`` (the draws do not interact).
    """
    import torch

    g = torch.Generator().manual_seed(int(seed))
    eps = torch.randn(n, generator=g, dtype=torch.float64)
    mu_t = torch.full((n,), float(mu), dtype=torch.float64, requires_grad=True)
    sigma_t = torch.full((n,), float(sigma), dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        z = mu_t + sigma_t * eps
        z.sum().backward()
    return ReparamDemo(eps.numpy(), z.detach().numpy(), mu_t.grad.numpy(), sigma_t.grad.numpy())


@dataclass(frozen=True)
class KLEstimate:
    """KL(N(mu, sigma^2) || N(0, 1)): closed form and a Monte-Carlo estimate with its error."""

    closed_form: float
    monte_carlo: float
    std_error: float
    n: int


def kl_closed_form(mu: float, sigma: float) -> float:
    """Via ``losses.kl_per_dim`` (the one place of the KL) with logvar = 2 log sigma."""
    import torch
    from vae_core.losses import kl_per_dim

    mu_t = torch.tensor([[float(mu)]], dtype=torch.float64)
    logvar_t = torch.tensor([[2.0 * math.log(sigma)]], dtype=torch.float64)
    return float(kl_per_dim(mu_t, logvar_t))


def kl_monte_carlo(mu: float, sigma: float, n: int, seed: int = 0) -> KLEstimate:
    """mean over z ~ q of log q(z) - log p(z), q = N(mu, sigma^2), p = N(0, 1); the standard error
    is std / sqrt(n). Its expectation is the closed-form KL."""
    import torch

    g = torch.Generator().manual_seed(int(seed))
    eps = torch.randn(n, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(torch.tensor(float(mu), dtype=torch.float64),
                                   torch.tensor(float(sigma), dtype=torch.float64))
    p = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64),
                                   torch.tensor(1.0, dtype=torch.float64))
    z = mu + sigma * eps
    terms = q.log_prob(z) - p.log_prob(z)
    se = float(terms.std() / math.sqrt(n)) if n > 1 else float("nan")
    return KLEstimate(kl_closed_form(mu, sigma), float(terms.mean()), se, n)


@dataclass(frozen=True)
class PosteriorSamples:
    """One image's q(z|x) and K reparameterized draws from it, decoded."""

    mu: np.ndarray  # (D,)
    logvar: np.ndarray  # (D,)
    z: np.ndarray  # (K, D)
    images: np.ndarray  # (K, H, W)


def posterior_samples(model: LatentModel, x: torch.Tensor, k: int, seed: int = 0) -> PosteriorSamples:
    """Encode one image x (1, C, H, W) with a VAE and draw K codes z = mu + sigma * eps."""
    import torch
    from vae_core.models import reparameterize

    if model.kind != "vae":
        raise ValueError("posterior samples need a VAE (an AutoEncoder's code is a point)")
    g = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        mu, logvar = model.encode(x[:1])
        z = reparameterize(mu.expand(k, -1), logvar.expand(k, -1), g)  # (K, D)
    return PosteriorSamples(mu[0].numpy(), logvar[0].numpy(), z.numpy(), decode_images(model, z))
