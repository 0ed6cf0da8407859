"""The latent remote control: what each latent dim of a model does, the range a slider sweeps, and
the traversal grid of the β-VAE papers (Higgins et al. 2017, fig. 7): each row one dim swept over
±3σ of the aggregate posterior while the others stay at one image's code.

Per dim (``dim_infos``): the KL of q(z_d|x) to the prior averaged over the test images
(``losses.kl_per_dim``, VAE only), whether it is active (``collapse.ACTIVE_VAR``: Var_x(E[z_d|x])
above 0.01, Burda et al. 2016), and the aggregate posterior's mean and std measured on
``generation.decoder_codes`` (the AE's z; one z ~ q(z|x) per image for the VAE), so a sweep covers
the codes the decoder was trained on. ``traversal`` decodes the grid and measures how much each
row changes the image, so a caption can say which dims matter from the numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae_core.analysis.codes import latent_axis_name
from vae_core.analysis.collapse import ACTIVE_VAR
from vae_core.analysis.generation import decoder_codes
from vae_core.analysis.latent_tools import decode_images
from vae_core.losses import kl_per_dim
from vae_core.models import LatentModel
from vae_core.text import Translate, no_translation

SWEEP_SIGMAS = 3.0  # a slider and a traversal row span mean ± 3 std of the aggregate posterior
TRAVERSAL_STEPS = 9
STILL = 0.05  # mean |pixel change| summed along a whole sweep below this: the dim does nothing


@dataclass(frozen=True)
class DimInfo:
    """One latent dim of one model, as its slider and its traversal row show it."""

    dim: int  # 0-based; shown as codes.latent_axis_name(dim)
    kl: float | None  # mean KL(q(z_d|x) ‖ N(0, 1)) over the test images, nats; None for an AE
    code_var: float  # Var_x of the code (the VAE's mu, the AE's z): the active-unit test
    mean: float  # aggregate posterior mean and std of this dim (decoder_codes)
    std: float

    @property
    def active(self) -> bool:
        return self.code_var > ACTIVE_VAR

    @property
    def low(self) -> float:
        return self.mean - SWEEP_SIGMAS * self.std

    @property
    def high(self) -> float:
        return self.mean + SWEEP_SIGMAS * self.std


def dim_infos(mu: np.ndarray | torch.Tensor, logvar: np.ndarray | torch.Tensor | None,
              seed: int = 0) -> list[DimInfo]:
    """Each dim's numbers (in dim order) from the test split's codes: ``mu`` (N, D) and ``logvar``
    (None for an AE)."""
    mu_t = torch.as_tensor(np.asarray(mu), dtype=torch.float32)
    kls = None if logvar is None else kl_per_dim(
        mu_t, torch.as_tensor(np.asarray(logvar), dtype=torch.float32)).double().mean(0)
    z = decoder_codes(mu_t, logvar, seed).double()
    var, mean, std = mu_t.double().var(0), z.mean(0), z.std(0)
    return [DimInfo(d, None if kls is None else float(kls[d]), float(var[d]), float(mean[d]),
                    max(float(std[d]), 1e-6)) for d in range(mu_t.shape[1])]


def slider_order(infos: list[DimInfo]) -> list[int]:
    """Dims in the order the sliders show them: active first, then by KL (VAE) or by spread (AE,
    which has no KL), largest first."""
    return [i.dim for i in sorted(infos, key=lambda i: (not i.active,
                                                        -(i.kl if i.kl is not None else i.std)))]


@dataclass(frozen=True)
class Traversal:
    """The decoded traversal grid of one model and how much each row changes the image."""

    dims: list[int]  # the row order
    values: np.ndarray  # (rows, steps) the swept value of each row's dim
    images: np.ndarray  # (rows * steps, H, W) row by row
    change: np.ndarray  # (rows,) sum over the sweep of the mean |pixel change| between frames

    @property
    def steps(self) -> int:
        return self.values.shape[1]

    def still(self) -> list[int]:
        """Dims whose sweep leaves the image (almost) unchanged: change below ``STILL``."""
        return [d for d, c in zip(self.dims, self.change) if c < STILL]

    def moving(self) -> list[int]:
        return [d for d, c in zip(self.dims, self.change) if c >= STILL]


def traversal_codes(start: np.ndarray, infos: list[DimInfo], dims: list[int],
                    steps: int = TRAVERSAL_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """((rows * steps, D) codes, (rows, steps) values): row r sweeps dim ``dims[r]`` over its
    ``low``..``high``, every other dim stays at ``start`` (D,)."""
    start = np.asarray(start, dtype=np.float32).reshape(-1)
    values = np.stack([np.linspace(infos[d].low, infos[d].high, steps) for d in dims])
    z = np.repeat(start[None], len(dims) * steps, axis=0)
    for r, d in enumerate(dims):
        z[r * steps:(r + 1) * steps, d] = values[r]
    return z, values


def traversal(model: LatentModel, start: np.ndarray, infos: list[DimInfo], dims: list[int],
              steps: int = TRAVERSAL_STEPS) -> Traversal:
    """Decode the traversal grid (rows ``dims``) from ``start`` and measure each row's change."""
    z, values = traversal_codes(start, infos, dims, steps)
    images = decode_images(model, z)  # (rows * steps, H, W) in [0, 1]
    rows = images.reshape(len(dims), steps, -1)
    change = np.abs(np.diff(rows, axis=1)).mean(2).sum(1) if steps > 1 else np.zeros(len(dims))
    return Traversal(list(dims), values, images, change)


def _names(dims: list[int]) -> str:
    return ", ".join(latent_axis_name(d) for d in dims)


def traversal_caption(model: str, trav: Traversal, infos: list[DimInfo],
                      gettext: Translate = no_translation) -> str:
    """Which dims of ``model`` ("AE" or "VAE") change its image and which do nothing, and why,
    from the traversal's measured change and each dim's KL and activity; says so when a dim
    contradicts its activity (an inactive dim that moves the image, an active one that does not)."""
    by_dim = {i.dim: i for i in infos}
    moving, still = trav.moving(), trav.still()
    out = []
    if moving:
        top = trav.dims[int(np.argmax(trav.change))]
        out.append(gettext("{model}: sweeping {dims} changes the image (most: {top}, a mean pixel "
                           "change of {change:.2f} summed along its row).").format(
            model=model, dims=_names(moving), top=latent_axis_name(top),
            change=float(trav.change.max())))
    else:
        out.append(gettext("{model}: no dim changes the image (every row's mean pixel change is "
                           "below {still:g}): the decoder ignores z.").format(model=model,
                                                                             still=STILL))
    quiet_inactive = [d for d in still if not by_dim[d].active]
    quiet_active = [d for d in still if by_dim[d].active]
    if quiet_inactive:
        kls = [by_dim[d].kl for d in quiet_inactive if by_dim[d].kl is not None]
        if kls:
            out.append(gettext("{dims} do nothing: they are inactive (KL at most {kl:.3f} nats "
                               "each, their code hardly varies between images), so the decoder "
                               "learned to ignore them.").format(dims=_names(quiet_inactive),
                                                                 kl=max(kls)))
        else:
            out.append(gettext("{dims} do nothing: their code hardly varies between images, so "
                               "the decoder learned to ignore them.").format(
                dims=_names(quiet_inactive)))
    if quiet_active:
        out.append(gettext("{dims} barely change the image although their codes vary between "
                           "images.").format(dims=_names(quiet_active)))
    loud_inactive = [d for d in moving if not by_dim[d].active]
    if loud_inactive:
        out.append(gettext("{dims} change the image although they count as inactive (their code "
                           "hardly varies between images).").format(dims=_names(loud_inactive)))
    if model == "AE" and not still:
        out.append(gettext("An AE has no KL term to switch a dim off, so every dim is used."))
    return " ".join(out)
